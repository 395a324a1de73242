#!/usr/bin/env bash
# Self-test of the lab (tests/lab/lab) through the Linux bridge: before any
# test blames townguard for a lost packet, the lab itself must pass.
#
#   [tgk<pid>-lan] client 10.99.0.10, fd99::10
#         │
#   [tgk<pid>-gw]  tg-lan ── br0 (kernel bridge) ── tg-wan
#         │
#   [tgk<pid>-wan] dnsmasq 10.99.0.1; HTTPS, HTTP, iperf3, UDP echo on
#                  10.99.0.2-.5 and fd99::2
#
# Passes when, from the client: DNS gives exactly the lab's answers (A, AAAA,
# a CNAME with its target's address, NXDOMAIN outside the lab, TTL 300);
# HTTPS verifies against the lab CA over IPv4 and IPv6 and each name gets its
# own certificate by SNI; the 4 MiB file arrives byte-identical; HTTP answers
# on port 80; iperf3 moves data; ping works both ways; UDP/443 echoes; and
# after `lab down` no namespace and no server process of this lab is left.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "skipped: needs root for network namespaces"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
top=${TOP:-$here/../..}
. "$top/tests/lib.sh"
lab=$top/tests/lab/lab
export LAB=tgk$$
make_work tgk
export LABDIR=$work
on_exit() { "$lab" down || true; }

"$lab" up --gateway kernel
# shellcheck disable=SC1091
. "$LABDIR/env"
on_lan() { "$lab" exec lan "$@"; }

# DNS: exact answer sections (name, TTL, class, type, data), whitespace folded.
answer() {
	on_lan dig @"$DNS_IP" +time=2 +tries=1 +noall +answer "$@" | awk '{$1=$1; print}'
}
expect "dig allowed.test A" "allowed.test. 300 IN A $ALLOWED_IP" "$(answer allowed.test A)"
expect "dig allowed.test AAAA" "allowed.test. 300 IN AAAA $ALLOWED_IP6" "$(answer allowed.test AAAA)"
expect "dig alias.test A (CNAME and target in one answer)" \
	"alias.test. 300 IN CNAME bound.test.
bound.test. 300 IN A $BOUND_IP" "$(answer alias.test A)"
expect "dig ip-blocked.test A" "$IPBLOCK_IP" "$(on_lan dig @"$DNS_IP" +short ip-blocked.test A)"
expect "dig http-blocked.test A" "$HTTPBLOCK_IP" "$(on_lan dig @"$DNS_IP" +short http-blocked.test A)"
expect "dig www.blocked.test A" "$ALLOWED_IP" "$(on_lan dig @"$DNS_IP" +short www.blocked.test A)"
# The rcode and the number of answers, e.g. "NOERROR 0".
rcode() {
	on_lan dig @"$DNS_IP" +time=2 +tries=1 "$@" |
		sed -n 's/.*status: \([A-Z]*\),.*/\1/p; s/.*ANSWER: \([0-9]*\),.*/\1/p' | paste -sd' '
}
expect "dig blocked.test AAAA (no such record: NODATA)" "NOERROR 0" "$(rcode blocked.test AAAA)"
expect "dig nosuch.test (NXDOMAIN)" "NXDOMAIN 0" "$(rcode nosuch.test A)"
expect "dig over IPv6 to $DNS_IP6" "$BOUND_IP" "$(on_lan dig @"$DNS_IP6" +short bound.test A)"

# HTTPS, verified against the lab CA. Names resolve through the lab's
# dnsmasq (lab exec's resolv.conf) or are pinned with --resolve.
fetch() { on_lan curl -sS --fail --max-time 10 --cacert "$CA" "$@"; }
expect "https://allowed.test/ over IPv4" "townguard lab: allowed.test" \
	"$(fetch -4 https://allowed.test/)"
expect "https://allowed.test/ over IPv6" "townguard lab: allowed.test" \
	"$(fetch -6 https://allowed.test/)"
for name in blocked.test www.blocked.test ip-blocked.test bound.test alias.test http-blocked.test; do
	expect "https://$name/ (its own certificate by SNI)" "townguard lab: $name" \
		"$(fetch "https://$name/")"
done
expect "https with --resolve" "townguard lab: bound.test" \
	"$(fetch --resolve "bound.test:443:$BOUND_IP" https://bound.test/)"
# A name the lab has no certificate for must not verify (the server falls
# back to the address's own certificate): the lab CA is no rubber stamp.
rc=0
fetch --resolve "nosuch.test:443:$IPBLOCK_IP" https://nosuch.test/ >/dev/null 2>&1 || rc=$?
expect "https://nosuch.test/ fails verification (curl exit 60)" 60 "$rc"

expect "big.bin sha256 over HTTPS" "$FILE_SHA256" \
	"$(fetch "https://allowed.test$FILE_PATH" | sha256sum | cut -d' ' -f1)"
expect "big.bin sha256 over HTTP" "$FILE_SHA256" \
	"$(on_lan curl -sS --fail --max-time 10 "http://blocked.test$FILE_PATH" | sha256sum | cut -d' ' -f1)"
expect "http://http-blocked.test/" "townguard lab: http-blocked.test" \
	"$(on_lan curl -sS --fail --max-time 10 http://http-blocked.test/)"
expect "http://[$ALLOWED_IP6]/" "townguard lab: $ALLOWED_IP6" \
	"$(on_lan curl -sS --fail --max-time 10 "http://[$ALLOWED_IP6]/")"
grep -q "^$BOUND_IP:443 $CLIENT_IP sni=alias.test host=alias.test \"GET / HTTP/1.1\" 200" "$LABDIR/https.log" ||
	fail "the server log has no line for https://alias.test/"
echo "ok: server log names the SNI and Host"

on_lan ping -c 2 -i 0.2 -W 2 "$ALLOWED_IP" >/dev/null || fail "ping $ALLOWED_IP"
on_lan ping -6 -c 2 -i 0.2 -W 2 "$ALLOWED_IP6" >/dev/null || fail "ping $ALLOWED_IP6"
"$lab" exec wan ping -c 1 -W 2 "$CLIENT_IP" >/dev/null || fail "ping from the WAN side"
echo "ok: ping both ways, IPv4 and IPv6"

expect "UDP echo on $ALLOWED_IP:$UDP_ECHO_PORT" "townguard-udp" "$(on_lan /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"townguard-udp", (sys.argv[1], int(sys.argv[2])))
print(s.recv(100).decode())' "$ALLOWED_IP" "$UDP_ECHO_PORT")"

bps=$(on_lan iperf3 -c "$ALLOWED_IP" -p "$IPERF_PORT" -t 2 -J | /usr/bin/python3 -c '
import json, sys
print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))')
[ "$bps" -gt 0 ] || fail "iperf3 received 0 bit/s"
echo "ok: iperf3 $((bps / 1000000)) Mbit/s through the kernel bridge"

pids=$(cat "$LABDIR"/dnsmasq.pid "$LABDIR"/https.pid "$LABDIR"/iperf3.pid)
"$lab" down
for ns in "$NS_LAN" "$NS_GW" "$NS_WAN"; do
	if ip netns list | grep -q "^$ns\b"; then fail "namespace $ns left after lab down"; fi
done
for pid in $pids; do
	[ ! -e "/proc/$pid" ] || [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] ||
		fail "server pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) still running after lab down"
done
if pgrep -f -- "$LABDIR" >/dev/null; then fail "a process naming $LABDIR survived lab down"; fi
echo "ok: lab down left nothing behind"
echo "lab self-test through the kernel bridge passed"
