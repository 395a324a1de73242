#!/usr/bin/env bash
# Bridge mode takes coalesced TCP frames (drivers/afpacket.c): GRO on the
# gateway's ports merges a burst of one flow's segments, townguard judges and
# forwards it once, and the kernel cuts it again on the way out. In the lab:
#
#   client ── tg-lan [townguard] tg-wan ── server
#     capture on the client's eth0        capture on the server's eth0
#
# a 4 MiB upload (client to server) and the 4 MiB download (HTTPS,
# server to client) arrive whole (sha256 at the receiver); both ports
# received coalesced frames (so the path under test was taken); and on both
# far ends every frame is at most 1514 bytes with correct IPv4 and TCP
# checksums: what left the gateway is what a wire carries.
set -uo pipefail
MODE=bridge
. "${TOP:-.}/tests/lab/inline_checks.sh"

inline_setup
inline_start -o log.level=info

# cap NS FILE: a full-frame TCP capture on that namespace's eth0 (lab down kills it at exit)
cap_pids=()
cap() {
	ip netns exec "$1" tcpdump -i eth0 --immediate-mode -U -s 0 -w "$2" tcp >/dev/null 2>"$2.log" &
	cap_pids+=($!)
	wait_log "$2.log" 'listening on' 5 || fail "tcpdump in $1 did not start"
}
cap "$NS_WAN" "$work/wan.pcap"
cap "$NS_LAN" "$work/lan.pcap"

# The upload: 4 MiB of random bytes over one TCP connection, the receiver's sha256.
head -c $((4 * 1024 * 1024)) /dev/urandom >"$work/up.bin"
up_sum=$(sha256sum <"$work/up.bin" | cut -d' ' -f1)
ip netns exec "$NS_WAN" /usr/bin/python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7001)); s.listen(1); open(sys.argv[2] + ".ready", "w").close()
c, _ = s.accept(); h = hashlib.sha256()
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b)
open(sys.argv[2], "w").write(h.hexdigest())' "$ALLOWED_IP" "$work/up.sum" &
rpid=$!
wait_for 5 test -e "$work/up.sum.ready" || fail "the upload receiver did not start"
lan /usr/bin/python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], 7001), timeout=20)
c.sendall(open(sys.argv[2], "rb").read()); c.shutdown(socket.SHUT_WR); c.recv(1)' "$ALLOWED_IP" "$work/up.bin" ||
	fail "upload: send"
wait "$rpid" || fail "upload: the receiver failed"
[ "$(cat "$work/up.sum")" = "$up_sum" ] || fail "upload differs at the receiver ($(cat "$work/up.sum"))"
sum=$(lan curl -sS --max-time 20 --cacert "$CA" --resolve "allowed.test:443:$ALLOWED_IP" \
	https://allowed.test/big.bin | sha256sum | cut -d' ' -f1)
[ "$sum" = "$FILE_SHA256" ] || fail "download differs ($sum)"
echo "ok: 4 MiB up (TCP) and down (HTTPS) whole"
sleep 0.3
stop_pids 2 "${cap_pids[@]}"

inline_stop
for p in tg-lan tg-wan; do
	line=$(grep "$p: received [0-9]* frames, [0-9]* of them coalesced" "$work/tg.log") ||
		fail "$p: no receive totals in the log"
	n=$(sed -n 's/.* frames, \([0-9]*\) of them coalesced.*/\1/p' <<<"$line")
	[ "$n" -gt 0 ] || fail "$p: no coalesced frame received ($line): the GRO path was not taken"
	grep -q "$p: .*; 0 refused" <<<"$line" || fail "$p: frames refused: $line"
	echo "ok: $line"
done
grep -q 'stopped: .* 0 send errors' "$work/tg.log" || fail "send errors: $(grep 'stopped:' "$work/tg.log")"

for side in wan lan; do
	/usr/bin/python3 - "$work/$side.pcap" "$side" <<-'PY' || fail "$side capture check"
	import struct, sys
	data = open(sys.argv[1], "rb").read()
	def csum(b):
	    if len(b) % 2:
	        b += b"\0"
	    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
	    while s >> 16:
	        s = (s & 0xffff) + (s >> 16)
	    return s
	off, frames, big, bad, payload = 24, 0, 0, 0, 0
	while off + 16 <= len(data):
	    incl, orig = struct.unpack_from("<II", data, off + 8)
	    f = data[off + 16:off + 16 + incl]
	    off += 16 + incl
	    if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
	        continue
	    frames += 1
	    big += orig > 1514
	    ihl = (f[14] & 15) * 4
	    tot = struct.unpack_from("!H", f, 16)[0]
	    l4 = f[14 + ihl:14 + tot]
	    payload += len(l4) - (l4[12] >> 4) * 4
	    if csum(f[14:14 + ihl]) != 0xffff or csum(f[26:34] + struct.pack("!HH", 6, len(l4)) + l4) != 0xffff:
	        bad += 1
	print("%s capture: %d TCP frames, %d payload bytes, %d over 1514 bytes, %d with a bad checksum"
	      % (sys.argv[2], frames, payload, big, bad))
	if payload < 4 * 1024 * 1024:
	    sys.exit("the capture lacks the transfer: the check would be vacuous")
	if big or bad:
	    sys.exit("frames no wire would carry")
	PY
done
echo "ok: every frame on both far ends at most 1514 bytes, checksums correct"
echo "PASS"
