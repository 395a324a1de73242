#!/usr/bin/env bash
# Names split across TCP segments, in bridge and nfqueue mode (tests/lab):
#
#   client ──[ tg-lan | townguard (holds the request) | tg-wan ]── server 10.99.0.2
#            split_client.py: TCP_NODELAY,              tcpdump -w wan.pcap
#            two writes 0.2 s apart
#
# A ClientHello (Python's ssl module) split inside the server_name
# extension (in the host name, and before the name entry), and an HTTP
# request split inside its Host header and just before it: for blocked.test
# (rule 101) each is refused, and the WAN capture shows not one byte of
# payload from those client ports (no part of the name, nor the rest of the
# request, left the gateway); for allowed.test (same address) each gets the
# server's page, byte-identical; the same again with the first segment
# held back past the second (an htb class on the client's port), 0.6 s and
# 2 s (past the hold's time limit: only that first segment may leave). A QUIC ClientHello cut inside the name
# across two Initials (tests/lab/quic_initial.py --split): for blocked.test
# neither Initial reaches the server, for allowed.test both do. The gateway
# counts holds and releases.
set -uo pipefail
MODE=bridge
. "${TOP:-.}/tests/lab/inline_checks.sh"
client=$top/tests/lab/split_client.py

inline_setup
expected=$work/expected
printf 'townguard lab: allowed.test\n' >"$expected"

# split KIND NAME PORT SPLIT [ARGS]: run the client; sets out (its output) and cport.
split() {
	out=$(lan /usr/bin/python3 "$client" "$1" "$2" "$ALLOWED_IP" "$3" "$4" --ca "$CA" "${@:5}" 2>&1)
	cport=$(sed -n '1s/^port //p' <<<"$out")
	[ -n "$cport" ] || fail "$1 $2 split $4: client did not connect: $out"
}

# slow_first_segment PORT [RATE]: the client's SYN to PORT and its first
# data segment (doff 8, starting with a TLS record header or "GET ") through
# an htb class of RATE (1kbit) on the client's port; everything else at full
# speed.
slow_first_segment() {
	lan tc qdisc add dev eth0 root handle 1: htb default 20 2>/dev/null &&
	lan tc class add dev eth0 parent 1: classid 1:10 htb rate "${2:-1kbit}" ceil "${2:-1kbit}" burst 1 cburst 1 2>/dev/null &&
	lan tc class add dev eth0 parent 1: classid 1:20 htb rate 10gbit 2>/dev/null &&
	lan tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip protocol 6 0xff \
		match ip dport "$1" 0xffff match u8 0x02 0x12 at 33 flowid 1:10 &&
	lan tc filter add dev eth0 parent 1: protocol ip prio 2 u32 match ip protocol 6 0xff \
		match u8 0x80 0xf0 at 32 match u16 0x1603 0xffff at 52 flowid 1:10 &&
	lan tc filter add dev eth0 parent 1: protocol ip prio 3 u32 match ip protocol 6 0xff \
		match u8 0x80 0xf0 at 32 match u32 0x47455420 0xffffffff at 52 flowid 1:10 ||
		fail "cannot set up the slow class on the client's port (tc htb, u32)"
}

for MODE in bridge nfqueue; do
	sed -i "s/^mode = .*/mode = $MODE/" "$work/gw.ini"
	: >"$work/tg.log"
	inline_start
	wan_capture_start
	blocked_ports=() allowed_ports=() late_ports=()
	for c in "tls 443 sni" "tls 443 ext" "http 80 host" "http 80 before"; do
		read -r kind port how <<<"$c"
		split "$kind" blocked.test "$port" "$how"
		grep -q '^refused' <<<"$out" || fail "$MODE: blocked.test $kind split at $how was answered: $out"
		blocked_ports+=("$cport")
		echo "ok: $MODE: blocked.test $kind split at $how refused ($(sed -n 2p <<<"$out"))"

		split "$kind" allowed.test "$port" "$how"
		sed -n '/^body:/,$p' <<<"$out" | sed '1s/^body://' | cmp -s - "$expected" ||
			fail "$MODE: allowed.test $kind split at $how: wrong answer: $out"
		allowed_ports+=("$cport")
		echo "ok: $MODE: allowed.test $kind split at $how answered byte-identical"
	done
	# Out of order: on the client's port an htb class of 1 kbit/s takes the
	# client's SYN and its first segment (a TLS record header or "GET "):
	# the SYN leaves at once and puts the class 0.6 s in debt, so the first
	# segment waits while the second, written 0.2 s later, goes out through
	# the fast class and reaches the gateway first (the client resends the
	# first meanwhile: a retransmission too). A fresh class per connection.
	# The last at 300 bit/s: the first segment comes 2 s late, well past the
	# hold's 500 ms, so the hold drops the second (the client resends it once
	# the first is acknowledged, after its backed-off timer) and holds the
	# request again from its start.
	for c in "tls 443 sni 1kbit" "http 80 host 1kbit" "tls 443 sni 300bit"; do
		read -r kind port how rate <<<"$c"
		for name in blocked.test allowed.test; do
			slow_first_segment "$port" "$rate"
			split "$kind" "$name" "$port" "$how" --timeout 15
			delayed=$(lan tc -s class show dev eth0 classid 1:10 | sed -n 's/^ *Sent [0-9]* bytes \([0-9]*\) pkt.*/\1/p')
			lan tc qdisc del dev eth0 root
			[ "${delayed:-0}" -ge 2 ] || fail "$MODE: $name $kind: the slow class sent ${delayed:-0} frames, not the SYN and the first segment"
			if [ "$name" = blocked.test ]; then
				grep -q '^refused' <<<"$out" || fail "$MODE: blocked.test $kind split at $how, out of order, was answered: $out"
				if [ "$rate" = 300bit ]; then late_ports+=("$cport"); else blocked_ports+=("$cport"); fi
			else
				sed -n '/^body:/,$p' <<<"$out" | sed '1s/^body://' | cmp -s - "$expected" ||
					fail "$MODE: allowed.test $kind split at $how, out of order: wrong answer: $out"
				allowed_ports+=("$cport")
			fi
		done
		echo "ok: $MODE: $kind split at $how with the first segment arriving last (SYN and it at $rate): blocked.test refused, allowed.test byte-identical"
	done

	# QUIC: a ClientHello cut inside its server name across two Initials of
	# one connection: the first is held until nDPI has read the name from
	# both; the lab's UDP echo returns what reached the server.
	out=$(lan /usr/bin/python3 "$top/tests/lab/quic_initial.py" --split "$CLIENT_IP" 40444 \
		"$ALLOWED_IP" "$UDP_ECHO_PORT" blocked.test allowed.test 2>&1)
	[ "$out" = "$(printf 'blocked.test dropped\nallowed.test echoed')" ] ||
		fail "$MODE: QUIC ClientHello split across two Initials: $out"
	echo "ok: $MODE: QUIC ClientHello split across two Initials: blocked.test held and dropped (neither reached the server), allowed.test both echoed"
	wan_capture_stop
	/usr/bin/python3 - "$work/wan.pcap" "$CLIENT_IP" "${blocked_ports[*]}" "${allowed_ports[*]}" "${late_ports[*]}" <<-'EOF' ||
	import socket, struct, sys
	data = open(sys.argv[1], "rb").read()
	client = socket.inet_aton(sys.argv[2])
	blocked = {int(p) for p in sys.argv[3].split()}
	late = {int(p) for p in sys.argv[5].split()}
	allowed = {int(p) for p in sys.argv[4].split()}
	payload, body = {}, {}
	off = 24
	while off + 16 <= len(data):
	    incl = struct.unpack_from("<I", data, off + 8)[0]
	    f = data[off + 16:off + 16 + incl]
	    off += 16 + incl
	    if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6 or f[26:30] != client:
	        continue
	    ihl = (f[14] & 15) * 4
	    t = 14 + ihl
	    total = struct.unpack_from(">H", f, 16)[0]
	    sport = struct.unpack_from(">H", f, t)[0]
	    doff = (f[t + 12] >> 4) * 4
	    payload[sport] = payload.get(sport, 0) + max(0, total - ihl - doff)
	    body.setdefault(sport, set()).add(bytes(f[t + doff:14 + total]))
	print("client payload bytes on the WAN by port:", payload)
	leaked = {p: payload[p] for p in blocked if payload.get(p)}
	if leaked:
	    sys.exit("payload of blocked requests left the gateway: %s" % leaked)
	# A request whose first segment came 2 s late: that one segment was let go
	# at the time limit (its half of the name with it); nothing after it.
	for p in late:
	    segs = {b for b in body.get(p, ()) if b}
	    if len(segs) > 1 or any(b"blocked.test" in b for b in segs):
	        sys.exit("port %d: more than the first segment left: %s" % (p, segs))
	missing = [p for p in allowed if not payload.get(p)]
	if missing:
	    sys.exit("the capture lacks the allowed requests (ports %s): the check would be vacuous" % missing)
	EOF
		fail "$MODE: WAN capture check"
	echo "ok: $MODE: WAN capture: no payload from the blocked connections, the allowed ones all there"
	inline_stop
	grep -q 'at sni "blocked.test" (rule 101)' "$work/tg.log" || fail "$MODE: no SNI hit logged"
	grep -q 'at http_host "blocked.test" (rule 101)' "$work/tg.log" || fail "$MODE: no Host hit logged"
	line=$(grep 'hold: [0-9]* flows held' "$work/tg.log") || fail "$MODE: no hold counters"
	echo "$MODE: $line"
	held=$(sed -n 's/.*hold: \([0-9]*\) flows held.*/\1/p' <<<"$line")
	[ "${held:-0}" -ge 16 ] || fail "$MODE: $held flows held, 16 splits sent"
	gaps=$(sed -n 's/.* \([0-9]*\) without their start (dropped).*/\1/p' <<<"$line")
	[ "${gaps:-0}" -ge 2 ] || fail "$MODE: ${gaps:-0} holds dropped for want of their start; 2 first segments came 2 s late"
done
echo "PASS"
