#!/usr/bin/env bash
# nfqueue mode in the lab (tests/lab): the kernel bridges tg-lan and tg-wan
# (bridge created by townguard through libnl), the first packets of each flow
# come to townguard through NFQUEUE, decided flows are offloaded by conntrack
# mark. The same checks as bridge mode (allowed traffic byte-identical,
# NXDOMAIN, SNI/Host/address/binding refused at the first try, nothing blocked
# on the WAN capture), then fail-open: townguard is killed with SIGKILL during
# an iperf3 run and traffic, old and new connections, goes on within 1 s.
set -uo pipefail
MODE=nfqueue
. "${TOP:-.}/tests/lab/inline_checks.sh"

inline_setup
inline_start
wan_capture_start
check_allowed
check_blocked
check_block_logged_once
wan_capture_stop
check_wan_capture

# Offload: the allowed download did not go packet by packet through the queue.
ip netns exec "$NS_GW" iptables-save -t mangle | grep -q 'NFQUEUE --queue-num 7' ||
	fail "no NFQUEUE rule installed"

# The offloaded flows' fast path (drivers/nfq_rules.h): townguard's FORWARD
# rules are the chain's last three, in order, once each; the first took the
# allowed downloads' packets (so they met one rule, not the jump and the
# chain), and only a few packets went to the queue.
gw() { ip netns exec "$NS_GW" "$@"; }
FAST_TCP='-p tcp -m tcp ! --tcp-flags SYN SYN -m mark --mark 0x0/0x3 -m connmark --mark 0x1/0x3 -j ACCEPT'
JUMP='-i tgbr0 -o tgbr0 -m physdev --physdev-is-bridged -j TOWNGUARD'
check_forward() { # ip|ip6 UDP_MAX
	local save tail want
	save=$(gw "$1tables-save" -c -t mangle) || fail "$1tables-save failed"
	tail=$(grep -- '-A FORWARD' <<<"$save" | tail -n 3 | sed 's/^\[[0-9:]*\] -A FORWARD //')
	want=$(printf '%s\n' "$FAST_TCP" \
		"-p udp -m length --length 0:$2 -m mark --mark 0x0/0x3 -m connmark --mark 0x1/0x3 -j ACCEPT" "$JUMP")
	[ "$tail" = "$want" ] || fail "$1: FORWARD ends with:"$'\n'"$tail"$'\n'"wanted:"$'\n'"$want"
	[ "$(grep -c -- '-A FORWARD' <<<"$save")" = 3 ] || fail "$1: FORWARD has other rules: $save"
	# bytes, not packets: the ports run with GRO, so a packet at the rule may be
	# a coalesced frame of many segments
	fast=$(grep -F -- "-A FORWARD $FAST_TCP" <<<"$save" | sed 's/^\[[0-9]*:\([0-9]*\)\].*/\1/')
	queued=$(grep -- '-j NFQUEUE' <<<"$save" | sed 's/^\[\([0-9]*\):.*/\1/')
}
# Table filter: one jump to the reset chain, first, gated by the drop
# connmark, so the accepted downloads' packets never took it.
FILTER_JUMP='-i tgbr0 -o tgbr0 -m connmark --mark 0x2/0x3 -m physdev --physdev-is-bridged -j TOWNGUARD'
check_filter() { # ip|ip6
	local save
	save=$(gw "$1tables-save" -c -t filter) || fail "$1tables-save -t filter failed"
	[ "$(grep -- '-A FORWARD' <<<"$save" | sed 's/^\[[0-9:]*\] -A FORWARD //')" = "$FILTER_JUMP" ] ||
		fail "$1: filter FORWARD is not the one gated jump:"$'\n'"$save"
	jumped=$(grep -F -- "$FILTER_JUMP" <<<"$save" | sed 's/^\[\([0-9]*\):.*/\1/')
}
check_filter ip
[ "$jumped" -lt 100 ] || fail "IPv4: $jumped packets took filter's jump (want < 100: only blocked flows' resends)"
echo "ok: IPv4 filter jump taken by $jumped packets (blocked connections only)"
check_filter ip6
check_forward ip 1227
# Two 4 MiB downloads over IPv4 (8,388,608 bytes of payload, with headers
# more). An accept offload waits until the queue is read empty, at most 8
# bursts of 64 (drivers/nfq_order.h): on a busy machine a download queues up
# to ~500 packets, about 750 KB of its 4 MiB.
[ "$fast" -ge 6000000 ] && [ "$queued" -lt 1200 ] ||
	fail "IPv4: $fast bytes on the fast path (want >= 6000000), $queued packets queued (want < 1200)"
echo "ok: IPv4 fast path took $fast bytes, $queued packets were queued"
check_forward ip6 1247
# One 4 MiB download over IPv6.
[ "$fast" -ge 3000000 ] && [ "$queued" -lt 1200 ] ||
	fail "IPv6: $fast bytes on the fast path (want >= 3000000), $queued packets queued (want < 1200)"
echo "ok: IPv6 fast path took $fast bytes, $queued packets were queued"
sysctls() { gw cat /proc/sys/net/netfilter/nf_conntrack_checksum /proc/sys/net/bridge/bridge-nf-call-arptables | tr '\n' ' '; }
[ "$(sysctls)" = "0 0 " ] || fail "conntrack checksum, bridge-nf-call-arptables while running: $(sysctls) (want 0 0)"
echo "ok: conntrack's checksum test and br_netfilter's ARP hook off while running"

# Fail-open: SIGKILL in the middle of an iperf3 run.
lan iperf3 -c "$ALLOWED_IP" -t 5 -i 0.5 -J >"$work/iperf.json" 2>&1 &
iperf_pid=$!
sleep 2
kill -KILL "$tgpid"; wait "$tgpid" 2>/dev/null; tgpid=
killed_at=$(date +%s.%N)
# A new connection after the kill: the queue has no listener, the kernel bypasses it.
t=$(lan curl -sS -o /dev/null --max-time 1 --cacert "$CA" --resolve "allowed.test:443:$ALLOWED_IP" \
	-w '%{time_total}' https://allowed.test/) || fail "new connection after SIGKILL failed"
echo "ok: new HTTPS connection ${t}s after SIGKILL"
lan dig +short +tries=1 +time=1 @"$DNS_IP" allowed.test A | grep -qx "$ALLOWED_IP" ||
	fail "DNS after SIGKILL"
wait "$iperf_pid" || fail "iperf3 failed: $(tail -n 5 "$work/iperf.json")"
/usr/bin/python3 - "$work/iperf.json" <<'PY' || fail "iperf3 stalled after SIGKILL"
import json, sys
r = json.load(open(sys.argv[1]))
iv = [(i["sum"]["start"], i["sum"]["bytes"]) for i in r["intervals"]]
print("iperf3 intervals (start s, bytes):", iv)
# The kill came at about 2 s; from 3 s on, every half second must carry data.
late = [b for s, b in iv if s >= 3.0]
if not late or min(late) == 0:
    sys.exit("an interval after the kill carried nothing")
PY
echo "ok: traffic continued after SIGKILL"

# The next start takes over what the killed one left (each FORWARD rule
# once, and the ungated filter jump of an older firmware taken out), and a
# clean stop removes the rules and puts the sysctls back.
gw sh -c 'echo 1 >/proc/sys/net/netfilter/nf_conntrack_checksum; echo 1 >/proc/sys/net/bridge/bridge-nf-call-arptables'
gw iptables -t filter -I FORWARD 2 -i tgbr0 -o tgbr0 -m physdev --physdev-is-bridged -j TOWNGUARD ||
	fail "could not add an old-style filter jump"
inline_start
check_forward ip 1227
check_forward ip6 1247
check_filter ip
check_filter ip6
[ "$(sysctls)" = "0 0 " ] || fail "sysctls after a restart: $(sysctls) (want 0 0)"
kill -TERM "$tgpid"; wait "$tgpid" || fail "townguard exited with $? on SIGTERM"; tgpid=
for t in iptables ip6tables; do
	left=$(gw "$t-save" -t mangle | grep -E -- '-A FORWARD|TOWNGUARD') && fail "$t: left after exit: $left"
	left=$(gw "$t-save" -t filter | grep -E -- 'TOWNGUARD') && fail "$t: left in filter after exit: $left"
done
[ "$(sysctls)" = "1 1 " ] || fail "sysctls after exit: $(sysctls) (want 1 1, as before the start)"
echo "ok: restart took the rules over once; exit removed them and put the sysctls back"
echo "PASS"
