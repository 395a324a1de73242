#!/usr/bin/env bash
# Verdicts belong to the request they judged, in bridge and then nfqueue
# mode, in the lab (tests/lab), with the bundle of tests/lab/inline_checks.sh
# (blocked.test by name, http-blocked.test by Host, ...):
#
#   client 10.99.0.10 ── tg-lan [townguard, bridge | nfqueue] tg-wan ── servers
#                                                                     10.99.0.1 DNS
#                                                                     10.99.0.2 allowed.test, blocked.test
#                                                                     10.99.0.5 http-blocked.test
#
#   - TLS: a connection from client port P to 10.99.0.2:443 with SNI
#     blocked.test is refused; at once, a new connection from the same port P
#     to the same server for allowed.test succeeds (and again 1 s later).
#   - HTTP: the same with Host http-blocked.test, then another Host, to
#     10.99.0.5:80 from one client port.
#   - QUIC: an Initial naming blocked.test dropped; from the same client
#     port, a new connection's Initial (new DCID) naming allowed.test passes.
#   - DNS: a blocked query from a fixed client port gets the gateway's
#     NXDOMAIN; an allowed query from the same port gets the resolver's real
#     answer; then 100 queries from one port, blocked and allowed in turn,
#     each answer checked (NXDOMAIN from the gateway, or the real A record),
#     and none of the blocked ones reached the resolver.
set -uo pipefail
LAB_PREFIX=tgA
. "${TOP:-.}/tests/lab/inline_checks.sh"

# tls_on_port PORT NAME: "exit time body" of one HTTPS GET from client port PORT.
tls_on_port() {
	local out rc
	out=$(lan curl -sS --max-time 5 --local-port "$1" --cacert "$CA" \
		--resolve "$2:443:$ALLOWED_IP" -w ' %{time_total}' "https://$2/" 2>>"$work/curl.err")
	rc=$?
	echo "$rc ${out##* } ${out% *}"
}

http_on_port() {
	local out rc
	out=$(lan curl -sS --max-time 5 --local-port "$1" --resolve "$2:80:$HTTPBLOCK_IP" \
		-w ' %{time_total}' "http://$2/" 2>>"$work/curl.err")
	rc=$?
	echo "$rc ${out##* } ${out% *}"
}

# tls_reuse PORT PAUSE: blocked.test refused from PORT, then after PAUSE
# seconds allowed.test served from the same port.
tls_reuse() {
	local port=$1 r t
	r=$(tls_on_port "$port" blocked.test)
	[ "${r%% *}" != 0 ] || fail "$MODE: blocked.test from port $port succeeded: $r"
	sleep "$2"
	r=$(tls_on_port "$port" allowed.test)
	[ "${r%% *}" = 0 ] && [[ "$r" == *"townguard lab: allowed.test"* ]] ||
		fail "$MODE: allowed.test from port $port $2 s after the blocked one: $r ($(tail -n 2 "$work/curl.err"))"
	t=${r#* }
	echo "ok: $MODE: TLS from port $port: blocked.test refused, allowed.test $2 s later served in ${t%% *} s"
}

check_tcp_port_reuse() {
	local port=$1 r
	tls_reuse "$port" 0
	# (a new port: the client's own TIME_WAIT holds the last one)
	tls_reuse "$((port + 2))" 1
	r=$(http_on_port "$((port + 1))" http-blocked.test)
	[ "${r%% *}" != 0 ] || fail "$MODE: Host http-blocked.test from port $((port + 1)) succeeded: $r"
	r=$(http_on_port "$((port + 1))" ip-free.test)
	[ "${r%% *}" = 0 ] && [[ "$r" == *"townguard lab: ip-free.test"* ]] ||
		fail "$MODE: Host ip-free.test from port $((port + 1)) after the blocked one: $r"
	echo "ok: $MODE: HTTP from port $((port + 1)): Host http-blocked.test refused, then ip-free.test served"
}

check_dns_port_reuse() {
	local port=$1 out
	out=$(lan dig -b "$CLIENT_IP#$port" +tries=1 +time=2 @"$DNS_IP" blocked.test A)
	grep -q 'status: NXDOMAIN' <<<"$out" || fail "$MODE: blocked.test from port $port: $out"
	out=$(lan dig -b "$CLIENT_IP#$port" +tries=1 +time=2 +short @"$DNS_IP" allowed.test A)
	[ "$out" = "$ALLOWED_IP" ] || fail "$MODE: allowed.test from port $port after a blocked query: '$out'"
	echo "ok: $MODE: DNS from port $port: blocked.test NXDOMAIN, then allowed.test $out"

	lan /usr/bin/python3 - "$CLIENT_IP" "$((port + 1))" "$DNS_IP" "$ALLOWED_IP" <<-'PY' ||
	import random, socket, struct, sys, time
	client, port, dns, want = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind((client, port))
	s.settimeout(2)
	def query(qid, name):
	    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
	    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
	    return q + struct.pack(">HH", 1, 1)
	bad, t0 = [], time.time()
	for i in range(100):
	    name = "blocked.test" if i % 2 == 0 else "allowed.test"
	    qid = random.randrange(65536)
	    s.sendto(query(qid, name), (dns, 53))
	    try:
	        while True:
	            a, _ = s.recvfrom(2048)
	            if struct.unpack(">H", a[:2])[0] == qid:
	                break
	    except socket.timeout:
	        bad.append((i, name, "no answer"))
	        continue
	    flags, qd, an = struct.unpack(">HHH", a[2:8])
	    rcode = flags & 15
	    if name == "blocked.test":
	        ok = rcode == 3 and an == 0
	    else:
	        ok = rcode == 0 and an >= 1 and socket.inet_aton(want) in a[-4:]
	    if not ok:
	        bad.append((i, name, "rcode %d, %d answers" % (rcode, an)))
	print("100 queries from port %d in %.2f s, %d judged wrong" % (port, time.time() - t0, len(bad)))
	sys.exit(str(bad[:10]) if bad else 0)
	PY
		fail "$MODE: alternating queries from one port"
	grep -q 'query\[A\] blocked.test' "$LABDIR/dnsmasq.log" &&
		fail "$MODE: a blocked.test query reached the resolver"
	echo "ok: $MODE: 100 alternating blocked/allowed queries from one port, all judged right"
}

# QUIC: an Initial naming blocked.test is dropped; from the same port, an
# Initial of a new connection (new DCID) naming allowed.test reaches the UDP
# echo and comes back (tests/lab/quic_initial.py).
check_quic_port_reuse() {
	local out
	out=$(lan /usr/bin/python3 "$top/tests/lab/quic_initial.py" "$CLIENT_IP" "$1" "$ALLOWED_IP" \
		"$UDP_ECHO_PORT" blocked.test allowed.test blocked.test allowed.test 2>&1)
	[ "$out" = "$(printf 'blocked.test dropped\nallowed.test echoed\nblocked.test dropped\nallowed.test echoed')" ] ||
		fail "$MODE: QUIC Initials from port $1: $out"
	echo "ok: $MODE: QUIC from port $1: blocked.test dropped, then a new connection for allowed.test passed (twice)"
}

for MODE in bridge nfqueue; do
	inline_setup
	inline_start
	check_tcp_port_reuse 40111
	check_dns_port_reuse 40222
	check_quic_port_reuse 40333
	inline_stop
	trap - EXIT
	inline_cleanup
done
echo "PASS"
