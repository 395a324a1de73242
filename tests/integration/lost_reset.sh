#!/usr/bin/env bash
# A blocked connection whose reset was lost still ends in a reset, not in
# the client's timeout: in bridge and then nfqueue mode, in the lab
# (tests/lab), with the bundle of tests/lab/inline_checks.sh.
#
#   client 10.99.0.10 ── tg-lan [townguard, bridge | nfqueue] tg-wan ── servers
#   (INPUT drops the first                                            10.99.0.2 blocked.test
#    RST it gets: the gateway's)                                      10.99.0.3 ip-blocked.test
#
# The client's own firewall drops the first TCP reset it receives, as a
# loaded link loses a frame. The gateway's reset for the blocked ClientHello
# (SNI blocked.test) is that one: the client resends the ClientHello, and
# the resent segment must be answered with a reset too, so curl fails with
# "connection reset" (exit 35), not its --max-time (exit 28). In nfqueue
# mode the flow was offloaded as dropped, so the resent segment never
# reaches townguard: the kernel answers it (REJECT --reject-with tcp-reset
# in filter FORWARD, drivers/nfq_rules.h). The same for a blocked address
# (reset at the SYN, the SYN resent) and for the HTTP Host.
set -uo pipefail
LAB_PREFIX=tgL
. "${TOP:-.}/tests/lab/inline_checks.sh"

# lose_one_reset: the client's INPUT drops the next RST it gets, once.
lose_one_reset() {
	lan iptables -F INPUT
	lan iptables -A INPUT -p tcp --tcp-flags RST RST -m statistic --mode nth --every 1000000 \
		--packet 0 -j DROP || fail "iptables in the client's namespace"
}
resets_lost() { lan iptables -L INPUT -v -n -x | awk '$3 == "DROP" { print $1 }'; }

# refused_after_lost_reset WHAT NAME PORT SCHEME ADDR
refused_after_lost_reset() {
	local what=$1 rc err
	lose_one_reset
	lan curl -sS -o /dev/null --max-time 8 --cacert "$CA" --resolve "$2:$3:$5" "$4://$2:$3/" \
		2>"$work/curl.err"
	rc=$?
	err=$(head -c 200 "$work/curl.err")
	[ "$(resets_lost)" = 1 ] || fail "$MODE: $what: the client dropped $(resets_lost) resets, not 1: the test proves nothing"
	[ "$rc" != 0 ] || fail "$MODE: $what: the connection succeeded"
	[ "$rc" != 28 ] || fail "$MODE: $what: no reset after the first was lost, curl timed out: $err"
	grep -qi "reset\|refused\|couldn't connect" "$work/curl.err" || fail "$MODE: $what: curl exit $rc, not a reset: $err"
	echo "ok: $MODE: $what: the first reset lost, the resent segment reset too (curl exit $rc: $err)"
}

for MODE in bridge nfqueue; do
	inline_setup
	inline_start
	refused_after_lost_reset "blocked SNI" blocked.test 443 https "$ALLOWED_IP"
	refused_after_lost_reset "blocked HTTP Host" http-blocked.test 80 http "$HTTPBLOCK_IP"
	refused_after_lost_reset "blocked address" ip-blocked.test 443 https "$IPBLOCK_IP"
	lan iptables -F INPUT
	# Nothing blocked reached a server, and allowed traffic is untouched.
	grep -E " $CLIENT_IP (sni=blocked\.test|sni=[^ ]* host=(blocked|http-blocked|ip-blocked)\.test)" \
		"$LABDIR/https.log" && fail "$MODE: a blocked request reached the web server"
	check_allowed
	inline_stop
	trap - EXIT
	inline_cleanup
done
echo "PASS"
