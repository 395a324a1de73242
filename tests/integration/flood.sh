#!/usr/bin/env bash
# A flood cannot buy a pass (docs/policy.md), in the lab (tests/lab), in
# bridge and then nfqueue mode:
#
#   client 10.99.0.10 ──┐
#                       ├── tg-lan ─ townguard ─ tg-wan ── servers (10.99.0.2: blocked.test, allowed.test)
#   flooder ────────────┘     (bridge, or kernel bridge + NFQUEUE)      └─ 198.51.100.0/24: nobody
#   (a second LAN host: MAC 02:99:00:00:00:20, sources 10.99.0.100-199)
#
# While tests/lab/flooder.c sends new TCP SYN and UDP flows (to 443, 80, 53
# and random ports, sources and source ports random) as fast as one raw
# socket can, 20 of 20 TLS connections to blocked.test are refused: curl
# fails, townguard logs the SNI block of that very connection (by its client
# port), and the server's log and a WAN capture hold no ClientHello for
# blocked.test. A refused connection normally ends with the gateway's reset;
# the flood may cost the client that one reset (the LAN veth's backlog is
# full). The resent ClientHello is then reset again: by townguard in bridge
# mode, by the kernel in nfqueue mode (the flow is offloaded as dropped; the
# chain's REJECT answers it, tests/integration/lost_reset.sh). Only when
# every reset is lost does curl time out: counted and shown, still refused.
# A try the flood starved (curl timed out before its SYN, ClientHello or the
# answer got through: the kernel drops what the gateway cannot read, and such
# a try was never judged) is tried again, at most 3 times, and counted; an
# attempt starved in all 4 tries proves nothing and at most a quarter of them
# may be. Connections to allowed.test that got through succeed, and
# townguard blocks none. The flood must have filled the
# inspection cap (flows pushed out > 0 in townguard's totals), else the check
# proves nothing. The figures (flood rate, flows pushed out, queue drops) are
# printed for docs/policy.md.
set -uo pipefail
MODE=bridge
. "${TOP:-.}/tests/lab/inline_checks.sh"

BLOCKED_TRIES=20
ALLOWED_TRIES=4
# All the attempts at once: each waits for what the flood costs it, not for
# the others. The gateway cannot read every flood frame; what it does not
# read it does not forward either, so a SYN can be lost and resent after 1,
# 3, 7, 15 s: curl waits 30 s. (In rounds of 5, one to allowed.test each,
# the test took as long as the sum of the rounds' slowest tries: 16 to 130 s.)
FLOOD_MAC=02:99:00:00:00:20

# This test's labs are tgD<pid> (in /tmp/tgDflood.*), apart from the other
# inline tests' tgi<pid> ones: inline_setup with the lab name changed.
eval "inline_lab_up_as_inline() $(declare -f inline_lab_up | tail -n +2)"
inline_lab_up() { inline_lab_up_as_inline "$1" tgDflood; }

inline_setup
"${CC:-cc}" -O2 -Wall -Wextra -Werror -o "$work/flooder" "$top/tests/lab/flooder.c" ||
	fail "cannot build the flooder"

# curl to NAME:443 at ALLOWED_IP; prints "exit time_total http_code local_port".
try_tls() {
	local out rc
	out=$(lan curl -sS -o /dev/null --max-time 30 --cacert "$CA" --resolve "$1:443:$ALLOWED_IP" \
		-w '%{time_total} %{http_code} %{local_port}' "https://$1/" 2>>"$work/curl.err")
	rc=$?
	echo "$rc ${out:-30 000 0}"
}

# try_connected NAME: try_tls until the try is answered, at most 3 times;
# prints try_tls's line and the number of tries. Under the flood the gateway
# reads only part of the LAN's frames (bridge) or the kernel's queue drops
# what does not fit (nfqueue), and neither forwards what it did not judge, so
# now and then a try starves: curl times out before its SYN or its
# ClientHello ever reached townguard. Such a try neither passed nor was
# refused; it is tried again and counted. A blocked try that timed out after
# townguard blocked it by name (its reset was lost) was refused: no retry.
try_connected() {
	local n line rc t code port
	for n in 1 2 3 4; do
		line=$(try_tls "$1")
		read -r rc t code port <<<"$line"
		[ "$rc" = 28 ] || break
		[ "$1" = blocked.test ] && blocked_by_name "$port" && break
	done
	echo "$line $n"
}

# blocked_by_name PORT: townguard blocked the client's connection from PORT by its SNI.
blocked_by_name() {
	# Either way round: when the flood made the gateway miss the SYN, the
	# first packet it saw was the server's, and the flow is named from it.
	grep -Eq "block ($CLIENT_IP:$1 -> $ALLOWED_IP:443|$ALLOWED_IP:443 -> $CLIENT_IP:$1) \(tcp\) at sni \"blocked.test\"" \
		"$work/tg.log"
}

# Wait for every background job but the given pids.
wait_jobs_except() {
	local p
	for p in $(jobs -p); do
		[[ " $* " == *" $p "* ]] || wait "$p"
	done
}

# flood_round: townguard in $MODE, the flood, the attempts, the checks.
flood_round() {
	local rc t code port tries lost=0 astarved=0 bstarved=0 refused=0 reset=0 allowed_ok=0 allowed_n=0 fpid
	local sni_before tcpdump_pid2 got took totals

	sed -i "s/^mode = .*/mode = $MODE/" "$work/gw.ini"
	inline_start
	check_allowed_quick
	sni_before=$(grep -c 'sni=blocked.test' "$LABDIR/https.log")

	# Only the client's TLS to the server: the flood goes to addresses nobody has.
	ip netns exec "$NS_WAN" tcpdump -i eth0 -B "$WAN_CAPTURE_BUFFER_KB" --immediate-mode -U -s 0 -w "$work/wan-$MODE.pcap" \
		"tcp port 443 and host $ALLOWED_IP" >/dev/null 2>"$work/tcpdump-$MODE.log" &
	tcpdump_pid2=$!
	wait_log "$work/tcpdump-$MODE.log" 'listening on' 5 || fail "tcpdump did not start"

	ip netns exec "$NS_LAN" "$work/flooder" eth0 "$FLOOD_MAC" "$SERVER_MAC" 120 \
		>"$work/flood-$MODE.out" 2>&1 &
	fpid=$!
	sleep 1 # the gateway is behind the flood before the first attempt

	for ((j = 1; j <= BLOCKED_TRIES; j++)); do
		try_connected blocked.test >"$work/try-$MODE-$j" &
	done
	for ((i = 1; i <= ALLOWED_TRIES; i++)); do
		try_connected allowed.test >"$work/try-$MODE-allowed-$i" &
	done
	wait_jobs_except "$fpid" "$tcpdump_pid2" "$tgpid"
	for ((i = 1; i <= ALLOWED_TRIES; i++)); do
		allowed_n=$((allowed_n + 1))
		read -r rc t code port tries <"$work/try-$MODE-allowed-$i"
		echo "  $MODE: allowed.test: curl exit $rc in ${t}s, HTTP $code (try $tries)"
		lost=$((lost + tries - 1))
		if [ "$rc" = 28 ]; then
			# Timed out in 4 tries: the kernel dropped its SYN, its
			# ClientHello or the answer before the gateway read them
			# (nothing was judged); a refusal would have been a reset.
			astarved=$((astarved + 1))
		elif [ "$rc" = 0 ] && [ "$code" = 200 ]; then
			allowed_ok=$((allowed_ok + 1))
		fi
	done
	kill "$fpid"; wait "$fpid"
	echo "  $MODE: flooder: $(cat "$work/flood-$MODE.out")"
	if [ "$MODE" = nfqueue ]; then
		# queue, peer, waiting, copy mode, range, queue dropped, user dropped, last id, 1
		echo "  $MODE: kernel queue (nfnetlink_queue): $(ip netns exec "$NS_GW" cat /proc/net/netfilter/nfnetlink_queue)"
	fi

	# After the flood: both still work as before.
	read -r rc t code port < <(try_tls allowed.test)
	[ "$rc" = 0 ] || fail "$MODE: allowed.test after the flood: curl exit $rc"

	capture_drained "$work/wan-$MODE.pcap"
	kill "$tcpdump_pid2"; wait "$tcpdump_pid2" 2>/dev/null
	got=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$work/tcpdump-$MODE.log")
	took=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$work/tcpdump-$MODE.log")
	[ -n "$got" ] && [ "$got" = "$took" ] || fail "$MODE: WAN capture lost frames: $(tr '\n' ' ' <"$work/tcpdump-$MODE.log")"

	inline_stop
	cp "$work/tg.log" "$work/tg-$MODE.log"
	totals=$(grep -h '^dpi cap' "$work/flows.json" "$work/tg.log")
	echo "  $MODE: townguard: $totals"
	[ "$MODE" = bridge ] && echo "  $MODE: townguard: $(grep -h '^port ' "$work/flows.json" "$work/tg.log")"

	for ((j = 1; j <= BLOCKED_TRIES; j++)); do
		read -r rc t code port tries <"$work/try-$MODE-$j"
		echo "  $MODE: blocked.test attempt $j: curl exit $rc in ${t}s from port $port (try $tries)"
		lost=$((lost + tries - 1))
		[ "$rc" != 0 ] || fail "$MODE: blocked.test attempt $j succeeded during the flood"
		if [ "$rc" = 28 ] && ! blocked_by_name "$port"; then
			# Timed out in 4 tries and never judged: the flood starved
			# its SYN or its ClientHello (the server's log and the WAN
			# capture below prove that no ClientHello passed either).
			bstarved=$((bstarved + 1))
			continue
		fi
		blocked_by_name "$port" ||
			fail "$MODE: blocked.test attempt $j (port $port, curl exit $rc) failed without townguard blocking it by its name"
		refused=$((refused + 1))
		[ "$rc" = 28 ] || reset=$((reset + 1))
	done
	# A try the flood starved in every one of its 4 tries (the gateway reads
	# a quarter of the LAN's frames at the highest rate, by chance) proves
	# nothing either way; a quarter of them would mean the gateway is down.
	[ $((astarved + bstarved)) -le $(((BLOCKED_TRIES + allowed_n) / 4)) ] ||
		fail "$MODE: $((astarved + bstarved)) of $((BLOCKED_TRIES + allowed_n)) attempts starved in all 4 tries"
	! grep -E '(block|cut) .*allowed\.test' "$work/tg.log" ||
		fail "$MODE: townguard blocked an allowed.test connection"
	[ "$refused" = $((BLOCKED_TRIES - bstarved)) ] || fail "$MODE: $refused of $BLOCKED_TRIES blocked connections refused"
	[ "$(grep -c 'sni=blocked.test' "$LABDIR/https.log")" = "$sni_before" ] ||
		fail "$MODE: a blocked.test request reached the server: $(grep 'sni=blocked.test' "$LABDIR/https.log" | tail -n 3)"
	[ "$allowed_ok" = $((allowed_n - astarved)) ] || fail "$MODE: $allowed_ok of $allowed_n allowed.test connections succeeded during the flood"
	/usr/bin/python3 - "$work/wan-$MODE.pcap" <<-'EOF' || fail "$MODE: WAN capture check"
	import re, sys
	data = open(sys.argv[1], "rb").read()
	bad = len(re.findall(rb"\x00\x0cblocked\.test", data))
	seen = len(re.findall(rb"\x00\x0callowed\.test", data))
	print("  WAN capture: %d bytes; ClientHellos for allowed.test %d, for blocked.test %d" % (len(data), seen, bad))
	if seen == 0:
	    sys.exit("the capture lacks the allowed ClientHellos: the check would be vacuous")
	if bad:
	    sys.exit("a ClientHello for blocked.test left the gateway")
	EOF
	pushed=$(sed -nE 's/^dpi cap +[0-9]+ flows: ([0-9]+) pushed out.*/\1/p' <<<"$totals")
	[ -n "$pushed" ] && [ "$pushed" -gt 0 ] ||
		fail "$MODE: the flood never filled the inspection cap ($totals): the check proves nothing"
	echo "ok: $MODE: $refused of $BLOCKED_TRIES blocked.test connections refused during the flood ($reset reset, $((refused - reset)) lost their reset and timed out), $allowed_ok of $allowed_n allowed.test connections succeeded, $pushed flows pushed out of inspection; $((astarved + bstarved)) attempts starved in all 4 tries, $lost tries starved (timed out before townguard saw their SYN or ClientHello) and were tried again"
}

# A quick proof the gateway forwards and blocks before the flood.
check_allowed_quick() {
	local rc rest
	read -r rc rest < <(try_tls allowed.test)
	[ "$rc" = 0 ] || fail "$MODE: allowed.test before the flood: curl exit $rc"
	read -r rc rest < <(try_tls blocked.test)
	[ "$rc" != 0 ] || fail "$MODE: blocked.test passed before the flood"
}

flood_round
MODE=nfqueue
flood_round
echo "PASS"
