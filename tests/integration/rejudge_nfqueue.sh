#!/usr/bin/env bash
# nfqueue mode: a new blocklist applies to open flows (tests/lab/rejudge_checks.sh),
# including those the kernel was passing on its own (offloaded by conntrack
# mark): their mark is cleared through ctnetlink, their next packet is
# queued, reset and dropped, and the drop is saved in conntrack.
set -uo pipefail
MODE=nfqueue
. "${TOP:-.}/tests/lab/rejudge_checks.sh"

inline_setup
inline_start
rejudge_checks

# The cut connections' entries now carry the drop mark (0x2): it sticks.
ct=$(ip netns exec "$NS_GW" cat /proc/net/nf_conntrack 2>/dev/null)
for addr in "$HTTPBLOCK_IP" "$BOUND_IP"; do
	line=$(grep "src=$CLIENT_IP dst=$addr .*dport=443 " <<<"$ct" | head -n 1)
	[ -n "$line" ] || { echo "note: no conntrack entry left for $addr (closed by the resets)"; continue; }
	grep -q 'mark=2 ' <<<"$line" || fail "conntrack entry of the cut flow to $addr: $line"
	echo "ok: conntrack keeps the drop of the cut flow to $addr"
done
inline_stop
grep 'stopped:' "$work/tg.log" | sed 's/^/  /'
# The offloaded flows were handed back through ctnetlink.
grep -Eq 'stopped: .*[1-9][0-9]* conntrack marks cleared' "$work/tg.log" ||
	fail "no conntrack mark was cleared: the cut flows were not offloaded, or ctnetlink failed"
echo "PASS"
