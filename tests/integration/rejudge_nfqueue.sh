#!/usr/bin/env bash
# nfqueue mode: a new blocklist applies to open flows (tests/lab/rejudge_checks.sh),
# including those the kernel was passing on its own (offloaded by conntrack
# mark): their mark is cleared through ctnetlink, their next packet is
# queued, reset and dropped, and the drop is saved in conntrack. Then one
# the kernel has passed for longer than the flow table's idle timeout (no
# flow record left) is cut by address all the same.
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

# A connection the kernel has passed on its own for longer than the flow
# table's idle timeout (2 s here) has no flow record left: a new list that
# blocks its address still cuts it (the kernel's connections are swept).
printf '[flow]\ntcp_timeout = 2\n' >>"$work/gw.ini"
mv "$work/tg.log" "$work/tg-1.log"
ip netns exec "$NS_GW" "$tg" run -c "$work/gw.ini" >/dev/null 2>"$work/tg.log" &
tgpid=$!
wait_log "$work/tg.log" 'running: mode nfqueue' 10 || fail "townguard did not start again"
rm -f "$work/old.done"
download old allowed.test "$ALLOWED_IP"
wait_for 3 test -s "$work/old.bin" || fail "download old did not start: $(cat "$work/old.err")"
sleep 4 # offloaded after DPI, then idle in the flow table for more than 2 s
echo "$ALLOWED_IP/32" >"$work/addr5.txt"
swap 5 cidr:"$work/addr5.txt",rule=108
wait_log "$work/tg.log" 'connections the kernel passes without a flow record judged by address in .*: 1 cut' 2 ||
	fail "the kernel's connection without a flow record was not judged: $(grep 'new blocklist' "$work/tg.log")"
expect_cut old "$ALLOWED_IP" "download open longer than the idle timeout, address blocked by serial 5"
expect_logged_once "cut (kernel connection) $CLIENT_IP:[0-9]* -> $ALLOWED_IP:443 (tcp) at ip \"$ALLOWED_IP/32\" (rule 108)"
inline_stop
echo "PASS"
