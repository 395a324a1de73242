#!/usr/bin/env bash
# The gateway's own IP identity in bridge mode: lwIP on the bridge itself,
# with its own MAC, no address in the kernel. In the lab, a DHCP server and a
# fixed-time SNTP server run on the WAN side (10.99.0.1). The bundle on flash
# blocks 10.99.0.1 by address, so the client's own DNS, ping and HTTP to it
# are refused, while the gateway's management traffic to the same address is
# never judged: it gets its address by DHCP, sets its clock by SNTP, and
# answers ping from both sides of the bridge.
set -uo pipefail
MODE=bridge
. "${TOP:-.}/tests/lab/inline_checks.sh"
sntp_time=1767323045 # 2026-01-02 03:04:05 UTC

inline_setup
# Serial 2 of the lab's bundle: also 10.99.0.1 (DNS, DHCP, SNTP server) by address.
echo "$DNS_IP/32" >>"$work/addr.txt"
"$hub" build --key "$work/hub/hub.key" --region lab --serial 2 --out "$work/lab2.bundle" \
	domains:"$work/sni.txt",rule=101 cidr:"$work/addr.txt",rule=104 >/dev/null
"$tg" bundle install "$work/lab2.bundle" -c "$work/gw.ini" 2>/dev/null | grep -q '^accepted' ||
	fail "bundle install"
printf '%s\n' '[mgmt]' 'mode = dhcp' "ntp = $DNS_IP" >>"$work/gw.ini"

ip netns exec "$NS_WAN" dnsmasq --no-daemon --port=0 --user=root --interface=eth0 --bind-interfaces \
	--dhcp-range=10.99.0.100,10.99.0.149,255.255.255.0,1h --dhcp-leasefile="$work/leases" \
	--log-dhcp >"$work/dhcp.log" 2>&1 &
ip netns exec "$NS_WAN" /usr/bin/python3 "${TOP:-.}/tests/lab/sntp_server.py" "$DNS_IP" "$sntp_time" \
	>"$work/sntp.log" 2>&1 &
servers_up() { log_has "$work/sntp.log" listening && log_has "$work/dhcp.log" 'DHCP, IP range'; }
wait_for 5 servers_up

ip netns exec "$NS_GW" "$tg" run -c "$work/gw.ini" >/dev/null 2>"$work/tg.log" &
tgpid=$!
wait_log "$work/tg.log" 'management address' 10
addr=$(sed -n 's/.*management address \([0-9.]*\) (DHCP).*/\1/p' "$work/tg.log" | tail -n 1)
[ -n "$addr" ] || fail "no management address by DHCP"
grep -q "$addr" "$work/leases" || fail "address $addr is not in dnsmasq's leases: $(cat "$work/leases")"
echo "ok: management address $addr by DHCP through the bridge"
wait_log "$work/tg.log" 'time set by SNTP' 5
grep -q "time set by SNTP: $sntp_time" "$work/tg.log" ||
	grep -q "time set by SNTP: $((sntp_time + 1))" "$work/tg.log" || fail "no SNTP time $sntp_time"
echo "ok: clock set by SNTP from $DNS_IP"

ip netns exec "$NS_WAN" ping -c 2 -W 1 -q "$addr" >/dev/null || fail "the WAN side cannot ping $addr"
lan ping -c 2 -W 1 -q "$addr" >/dev/null || fail "the LAN side cannot ping $addr"
echo "ok: $addr answers ping from both sides"
[ -z "$(ip -n "$NS_GW" -4 addr show dev tg-lan; ip -n "$NS_GW" -4 addr show dev tg-wan)" ] ||
	fail "the kernel has an address on a gateway port"

# The same server, for the client: blocked by address.
lan ping -c 1 -W 1 -q "$DNS_IP" >/dev/null 2>&1 && fail "the client reached the blocked address"
expect_fast_failure "client to the blocked address" ip-free.test 80 http "$DNS_IP"
grep -q 'at ip "10.99.0.1/32" (rule 104)' "$work/tg.log" || fail "no block logged for the client"
# ...and no flow from the management stack was ever judged.
grep -E "block $addr:|-> $addr:" "$work/tg.log" && fail "management traffic was judged"
echo "ok: management traffic exempt, the client's traffic to the same server blocked"
inline_stop
echo PASS
