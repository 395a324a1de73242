#!/usr/bin/env bash
# Monitor mode in the lab: the kernel bridges the office (lab --gateway
# kernel); townguard watches tg-lan (a bridge port sees both directions, as a
# mirror port does) and answers from [ports] inject = br0, whose frames the
# bridge delivers by MAC. Nothing is inline: allowed traffic is untouched and
# the blocked traffic itself still flows, but the client receives the
# gateway's NXDOMAIN for a blocked name and a TCP RST (from the server's
# address) for a blocked SNI, both seen on a capture at the client.
set -uo pipefail
MODE=monitor
. "${TOP:-.}/tests/lab/inline_checks.sh"

inline_lab_up kernel tgmon
mkdir -p "$work/data/keys"
"$hub" keygen --out "$work/hub" >/dev/null
cp "$work/hub/hub.pub" "$work/data/keys/hub.pub"
echo blocked.test >"$work/names.txt"
"$hub" build --key "$work/hub/hub.key" --region lab --serial 1 --out "$work/lab.bundle" \
	domains:"$work/names.txt",rule=201 >/dev/null
printf '%s\n' '[gateway]' 'region = lab' "data_dir = $work/data" 'mode = monitor' \
	'[capture]' 'interface = tg-lan' '[ports]' 'inject = br0' >"$work/gw.ini"
"$tg" bundle install "$work/lab.bundle" -c "$work/gw.ini" | grep -q '^accepted' || fail "bundle install"

ip netns exec "$NS_LAN" tcpdump -i eth0 --immediate-mode -U -s 0 -w "$work/client.pcap" 'tcp or udp port 53' \
	>/dev/null 2>"$work/tcpdump.log" &
tcpdump_pid=$!
ip netns exec "$NS_GW" "$tg" run -c "$work/gw.ini" >/dev/null 2>"$work/tg.log" &
tgpid=$!
both_up() { log_has "$work/tg.log" 'running: mode' && log_has "$work/tcpdump.log" 'listening on'; }
wait_for 10 both_up
grep -q 'running: mode monitor on tg-lan and br0' "$work/tg.log" || fail "townguard did not start"

check_allowed
# The TLS connection first: once the server's answer for blocked.test has
# passed the mirror, its address is bound to the name and a later flow to it
# is judged at its first packet (stage dns_binding) instead.
lan curl -sS -o /dev/null --max-time 3 --cacert "$CA" --resolve "blocked.test:443:$ALLOWED_IP" \
	https://blocked.test/ 2>/dev/null
lan dig +tries=1 +time=2 @"$DNS_IP" blocked.test A >/dev/null
wan_capture_stop
inline_stop
grep -o 'stopped: .*' "$work/tg.log"
grep -q 'at dns "blocked.test" (rule 201)' "$work/tg.log" || fail "no DNS hit logged"
grep -q 'at sni "blocked.test" (rule 201)' "$work/tg.log" || fail "no SNI hit logged"

nx=$(tcpdump -nr "$work/client.pcap" "src host $DNS_IP and udp src port 53" 2>/dev/null |
	grep -c 'NXDomain')
rst=$(tcpdump -nr "$work/client.pcap" \
	"src host $ALLOWED_IP and tcp src port 443 and tcp[tcpflags] & tcp-rst != 0" 2>/dev/null | wc -l)
echo "client saw: $nx NXDOMAIN answers, $rst resets from $ALLOWED_IP:443"
[ "$nx" -ge 1 ] || fail "the client never got the gateway's NXDOMAIN"
[ "$rst" -ge 1 ] || fail "the client never got a reset for the blocked SNI"
echo PASS
