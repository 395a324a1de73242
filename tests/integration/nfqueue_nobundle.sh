#!/usr/bin/env bash
# nfqueue mode with no bundle on flash (issue 10): with nothing to judge
# against, a flow is offloaded to the kernel as soon as DPI is done with it
# (gateway_nfq.c), instead of having every packet queued for as long as it
# lasts; and a bundle that arrives later still cuts the flows it blocks,
# although the kernel was passing them on its own.
#
#   client ── tg-lan ─[ tgbr0, townguard on queue 7, no bundle ]─ tg-wan ── servers
#
#   download    name, address                 offloaded  then serial 2 (the first list)
#   keep        allowed.test, 10.99.0.2       yes        nothing: the whole file, byte-identical
#   byaddr      allowed.test, 10.99.0.5       yes        cut: 10.99.0.5/32 (rule 105)
#   byname      alias.test, 10.99.0.4         yes        cut: alias.test (rule 106)
#
# "Offloaded" is the kernel's word: the connection's conntrack mark is 1
# (accepted, nfq_rules.h). A cut download's connection must be reset within
# 1 s of the SIGHUP (tests/lab/rejudge_checks.sh), and the gateway must have
# seen only the first packets of each download, not the 4 MiB.
set -uo pipefail
MODE=nfqueue
LAB_PREFIX=${LAB_PREFIX:-tgo}
RATE=${RATE:-600000} # bytes/s: the kept download's 4 MiB in about 7 s
. "${TOP:-.}/tests/lab/rejudge_checks.sh"

inline_setup
# No bundle on flash: the installed one (serial 1) taken out again.
rm -rf "$work/data/bundle"
: >"$work/tg.log"
ip netns exec "$NS_GW" "$tg" run -c "$work/gw.ini" >/dev/null 2>"$work/tg.log" &
tgpid=$!
wait_log "$work/tg.log" 'running: mode nfqueue' 10 || fail "townguard did not start"
grep -q 'blocklist in force' "$work/tg.log" && fail "a blocklist is in force: the test needs none"
wait_for 5 lan ping -c 1 -W 0.2 "$ALLOWED_IP" >/dev/null 2>&1 || fail "no ping through the gateway"

downloads_start

# offloaded ADDR: the client's connection to ADDR:443 carries the accept mark.
offloaded() {
	ip netns exec "$NS_GW" cat /proc/net/nf_conntrack 2>/dev/null |
		grep "src=$CLIENT_IP dst=$1 .*dport=443 " | grep -q 'mark=1 '
}
for addr in "$ALLOWED_IP" "$HTTPBLOCK_IP" "$BOUND_IP"; do
	wait_for 3 offloaded "$addr" ||
		fail "the download to $addr was not offloaded with no bundle: $(ip netns exec "$NS_GW" \
			grep "dst=$addr .*dport=443 " /proc/net/nf_conntrack)"
done
echo "ok: three downloads offloaded to the kernel with no bundle on flash"

echo "$HTTPBLOCK_IP/32" >"$work/addr2.txt"
echo alias.test >"$work/name2.txt"
swap 2 cidr:"$work/addr2.txt",rule=105 domains:"$work/name2.txt",rule=106
expect_cut byaddr "$HTTPBLOCK_IP" "offloaded download, address blocked by the first list"
expect_logged_once "cut $CLIENT_IP:[0-9]* -> $HTTPBLOCK_IP:443 (tcp) at ip \"$HTTPBLOCK_IP/32\" (rule 105)"
expect_cut byname "$BOUND_IP" "offloaded download, name blocked by the first list"
expect_logged_once "cut $CLIENT_IP:[0-9]* -> $BOUND_IP:443 (tcp) at sni \"alias.test\" (rule 106)"
keep_running "serial 2"

expect_kept "across the first list" 20

inline_stop
grep -E 'stopped: [0-9]+ frames|conntrack marks cleared' "$work/tg.log" | sed 's/^/  /'
# The kept download alone is 4 MiB, more than 2,800 full segments and their
# ACKs: had its packets been queued, the gateway would have seen them all.
frames=$(sed -n 's/.*stopped: \([0-9]*\) frames.*/\1/p' "$work/tg.log" | head -n 1)
[ -n "$frames" ] && [ "$frames" -lt 1500 ] ||
	fail "the gateway saw ${frames:-no} frames: the downloads were not offloaded early"
echo "ok: the gateway saw $frames frames of three 4 MiB downloads"
echo "PASS"
