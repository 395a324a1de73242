#!/usr/bin/env bash
# A connection that ends while the gateway does not watch it must not lend
# its verdict to the next one on the same ports: in bridge and then nfqueue
# mode, in the lab (tests/lab), with the bundle of tests/lab/inline_checks.sh.
#
#   client 10.99.0.10 ── tg-lan [townguard, bridge | nfqueue] tg-wan ── servers
#     one client port P                                                10.99.0.2 allowed.test, blocked.test
#                                                                      10.99.0.5 http-blocked.test
#
# From one client port P, in turn, each connection to completion:
#   1. HTTPS to 10.99.0.2:443 for allowed.test ("Connection: close"); the
#      client reads to the server's FIN before it closes, so the server
#      closes first and the client's port is free at once (the server keeps
#      the TIME_WAIT), as it was for curl in the soak now and then;
#   2. at once from the same P, to the same server, SNI blocked.test: must be
#      refused, and the server must never log it.
# The same for HTTP to 10.99.0.5:80, Host ip-free.test then http-blocked.test.
# Five ports each.
#
# The bug this pins (the soak found it, nfqueue mode only): the allowed
# flow was offloaded to conntrack with an accept mark, so the FINs that
# ended it never reached townguard, whose flow record stayed open; the
# chain clears the mark on the next SYN and queues it, but the SYN was
# counted in the old, open, accepted flow and given its final verdict
# again: accept, offloaded, and the blocked ClientHello passed in the
# kernel without being read. In bridge mode townguard sees every FIN.
set -uo pipefail
LAB_PREFIX=tgR
. "${TOP:-.}/tests/lab/inline_checks.sh"

# reuse PORT PROTO ADDR SERVER_PORT ALLOWED_NAME BLOCKED_NAME
reuse() {
	lan /usr/bin/python3 - "$CLIENT_IP" "$@" "$CA" <<-'PY'
	import errno, socket, ssl, sys, time
	client, port, proto, addr, sport, allowed, blocked, ca = sys.argv[1:]
	port, sport = int(port), int(sport)

	def bound():
	    # The port is free once the server acknowledged our FIN (LAST_ACK
	    # ends); if it stays taken the client holds a TIME_WAIT: the server
	    # did not close first and the test would prove nothing.
	    for _ in range(40):
	        s = socket.socket()
	        try:
	            s.bind((client, port))
	            return s
	        except OSError as e:
	            s.close()
	            if e.errno != errno.EADDRINUSE:
	                raise
	            time.sleep(0.05)
	    sys.exit("client port %d still taken: the client closed first (TIME_WAIT)" % port)

	def get(name):
	    s = bound()
	    s.settimeout(5)
	    try:
	        s.connect((addr, sport))
	        if proto == "https":
	            ctx = ssl.create_default_context(cafile=ca)
	            s = ctx.wrap_socket(s, server_hostname=name)
	        s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name).encode())
	        data = b""
	        while True:  # to the server's FIN: it closes first
	            b = s.recv(4096)
	            if not b:
	                break
	            data += b
	        return data.decode(errors="replace")
	    except (OSError, ssl.SSLError) as e:
	        return "refused: %s" % (e.__class__.__name__)
	    finally:
	        s.close()

	body = get(allowed)
	if not body.endswith("townguard lab: %s\n" % allowed):
	    sys.exit("%s from port %d: %r" % (allowed, port, body[-80:]))
	body = get(blocked)
	if not body.startswith("refused"):
	    sys.exit("%s from port %d right after %s closed: answered %r" % (blocked, port, allowed, body[-80:]))
	print("%s served, then %s %s" % (allowed, blocked, body))
	PY
}

for MODE in bridge nfqueue; do
	inline_setup
	inline_start
	for i in 0 1 2 3 4; do
		out=$(reuse $((40400 + i)) https "$ALLOWED_IP" 443 allowed.test blocked.test 2>&1) ||
			fail "$MODE: TLS from one port: $out"
		echo "ok: $MODE: TLS from port $((40400 + i)): $out"
		out=$(reuse $((40500 + i)) http "$HTTPBLOCK_IP" 80 ip-free.test http-blocked.test 2>&1) ||
			fail "$MODE: HTTP from one port: $out"
		echo "ok: $MODE: HTTP from port $((40500 + i)): $out"
	done
	# Nothing blocked reached a server (its log names client, SNI and Host).
	grep -E " $CLIENT_IP (sni=blocked\.test|sni=[^ ]* host=(blocked|http-blocked)\.test)" "$LABDIR/https.log" &&
		fail "$MODE: a blocked request reached the web server"
	n=$(grep -c " $CLIENT_IP .*host=\(allowed\|ip-free\)\.test" "$LABDIR/https.log")
	[ "$n" = 10 ] || fail "$MODE: the server logged $n allowed requests, not 10"
	for want in 'at sni "blocked.test" \(rule 101\)' 'at http_host "http-blocked.test" \(rule 102\)'; do
		[ "$(grep -Ec "$want" "$work/tg.log")" -ge 5 ] || fail "$MODE: fewer than 5 log lines: $want"
	done
	echo "ok: $MODE: 10 allowed requests served, 10 blocked ones refused from the same ports, none reached a server"
	inline_stop
	trap - EXIT
	inline_cleanup
done
echo "PASS"
