#!/usr/bin/env bash
# Batched send and verdicts keep frames whole, complete and in order, in both
# inline modes (tests/lab). A numbered train of 3000 UDP datagrams of 64 to
# 1400 bytes, sent from the client in bursts of 32, must reach a receiver on
# the WAN side all whole, none twice, none out of order (tests/lab/udp_train.py);
# then the same with each datagram from a new source port (3000 new flows,
# whose first packets nfqueue mode queues one after the other);
# an HTTPS and HTTP download stays byte-identical. Bridge mode must have sent
# its forwarded frames in fewer system calls than frames (pcap's sendmmsg
# queue), nfqueue mode must have given verdicts in batch messages.
set -uo pipefail
. "${TOP:-.}/tests/lab/inline_checks.sh"
train=$top/tests/lab/udp_train.py
N=3000

# train NAME [flows]: the UDP train through the running gateway, checked at the receiver
train() {
	rm -f "$work/train.out" "$work/train.out.ready"
	ip netns exec "$NS_WAN" /usr/bin/python3 "$train" recv "$ALLOWED_IP" 7777 $N "$work/train.out" &
	local rpid=$!
	wait_for 5 test -e "$work/train.out.ready" || fail "$1: the receiver did not start"
	ip netns exec "$NS_LAN" /usr/bin/python3 "$train" send "$ALLOWED_IP" 7777 $N 32 ${2:-} ||
		fail "$1: send"
	wait "$rpid" || fail "$1: the receiver failed"
	local got
	got=$(cat "$work/train.out")
	[ "$got" = "got $N whole $N out_of_order 0 duplicates 0" ] || fail "$1: UDP train: $got"
	echo "ok: $1: $N datagrams whole and in order${2:+, one flow each}"
}

for MODE in bridge nfqueue; do
	inline_setup
	inline_start -o log.level=info
	train "$MODE"
	train "$MODE" flows
	check_allowed
	inline_stop
	grep -q 'stopped: .* 0 send errors' "$work/tg.log" || fail "$MODE: send errors: $(grep 'stopped:' "$work/tg.log")"
	if [ "$MODE" = bridge ]; then
		line=$(grep 'tg-wan: sent [0-9]* queued frames in [0-9]* system calls' "$work/tg.log") ||
			fail "bridge: no batching on tg-wan"
		read -r frames calls < <(sed -E 's/.*sent ([0-9]+) queued frames in ([0-9]+) system.*/\1 \2/' <<<"$line")
		[ "$frames" -ge $N ] && [ "$calls" -lt "$frames" ] ||
			fail "bridge: tg-wan sent $frames frames in $calls calls"
		echo "ok: bridge: tg-wan sent $frames frames in $calls sendmmsg calls"
	else
		line=$(grep 'queue 7: [0-9]* verdicts went in [0-9]* batch messages' "$work/tg.log") ||
			fail "nfqueue: no batch verdicts"
		echo "ok: nfqueue: ${line#*queue 7: }"
	fi
	inline_cleanup
	trap - EXIT
done
echo "PASS"
