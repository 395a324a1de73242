#!/usr/bin/env bash
# Forwarding does not pause while a big bundle arrives over the air. The
# lab's bridge-mode gateway (lwIP on the bridge, mutual TLS to a real
# Mosquitto on the WAN side, as in hub_link.sh) forwards a steady stream of
# pings, one every 2 ms, from the client to 10.99.0.2 while the hub publishes
# a bundle of GAP_DOMAINS domains and as many prefixes (default 1M + 1M,
# 25 MB, the issue's size). tcpdump on the WAN side timestamps every echo
# request that crossed the bridge; the largest gap between two of them:
#
#   ┌─ lan ──────┐   ┌─ gw ───────────────────────────┐   ┌─ wan ─────────────┐
#   │ ping -i    │──▶│ townguard: bridge + lwIP uplink │──▶│ tcpdump (echo req)│
#   │ 0.002      │   │ <- 25 MB over MQTT/TLS          │◀──│ mosquitto, tg-hub │
#   └────────────┘   └────────────────────────────────┘   └───────────────────┘
#
#   - before the transfer (the anchor: the loop's own jitter, ping's timer);
#   - from `tg-hub publish` to the bundle in force, plus 0.5 s.
#
# The bound, GAP_MAX_MS (default 100): the 25 MB arrive through the same
# loop that forwards, hashed and written a fragment at a time; what is left
# once the last fragment is in is the final fsync (writeback started as it
# came), the structural validation of the mapped file (about 20 ms,
# docs/bundle-format.md), one signature check (1.5 ms), two renames and
# the swap. Measured on the 2-vCPU development VM: 22-37 ms (the anchor
# before the transfer: 5-6 ms). main's code before this change, which
# hashed the 25 MB in one go at the end, copied them and hashed them again:
# 463 ms. 100 ms (plus four times the jitter measured before the transfer,
# see below) leaves room for a loaded machine, stays under the 200 ms floor
# of Linux's TCP retransmission timeout when quiet, and fails the old code.
#
#   GAP_DOMAINS=200000 for a shorter run; GAP_MAX_MS to change the bound;
#   GAP_LOG=FILE keeps the gateway's log.
set -uo pipefail
MODE=bridge
. "${TOP:-.}/tests/lab/inline_checks.sh"
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] ||
	{ echo "skipped: no mosquitto"; exit 77; }
command -v tcpdump >/dev/null || { echo "skipped: no tcpdump"; exit 77; }
N=${GAP_DOMAINS:-1000000}
GAP_MAX_MS=${GAP_MAX_MS:-100}

ping_cleanup() {
	[ -n "${pingpid:-}" ] && kill "$pingpid" 2>/dev/null
	inline_cleanup
}
inline_setup
[ -n "${KEEP:-}" ] || trap ping_cleanup EXIT
hub_lab_up

# The big bundle: N domains, N/2 IPv4 /32s in 1.0.0.0/8, N/2 IPv6 /64s in
# 2001:db8::/32 (none covers the lab's addresses), serial 2.
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "d%d.gap.test\n", i }' >"$work/big-dom.txt"
awk -v n="$N" 'BEGIN { for (i = 0; i < n / 2; i++)
	printf "1.%d.%d.%d/32\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256 }' >"$work/big-v4.txt"
awk -v n="$N" 'BEGIN { for (i = 0; i < n / 2; i++)
	printf "2001:db8:%x:%x::/64\n", int(i / 65536), i % 65536 }' >"$work/big-v6.txt"
"$hub" build --key "$work/hub/hub.key" --region $R --serial 2 --out "$work/big.bundle" \
	domains:"$work/big-dom.txt",rule=201 cidr:"$work/big-v4.txt",rule=202 \
	cidr:"$work/big-v6.txt",rule=202 >"$work/build.log" 2>&1 || fail "build: $(cat "$work/build.log")"
size=$(stat -c %s "$work/big.bundle")

ip netns exec "$NS_GW" "$tg" run -c "$work/gw.ini" >/dev/null 2>"$work/tg.log" &
tgpid=$!
must_log "$work/tg.log" 'uplink\] info: connected to' 15
lan ping -c 1 -W 1 -q "$ALLOWED_IP" >/dev/null || fail "no ping through the bridge"

ip netns exec "$NS_WAN" tcpdump -i eth0 --immediate-mode -U -s 64 -w "$work/gap.pcap" \
	"icmp[icmptype] = icmp-echo and src host $CLIENT_IP" >/dev/null 2>"$work/tcpdump.log" &
tcpdump_pid=$!
must_log "$work/tcpdump.log" 'listening on' 5
# (ip netns exec, not the lan function: $! must be ping itself, for its SIGINT)
ip netns exec "$NS_LAN" ping -i 0.002 -w 90 -q "$ALLOWED_IP" >"$work/ping.log" 2>&1 &
pingpid=$!
sleep 0.5
t_base=$EPOCHREALTIME
sleep 2
t_pub=$EPOCHREALTIME
ip netns exec "$NS_WAN" "$hub" publish "${HUB[@]}" "$work/big.bundle" >"$work/publish.log" 2>&1 ||
	fail "publish: $(cat "$work/publish.log")"
for _ in $(seq 400); do grep -q 'from the hub in force: serial 2' "$work/tg.log" && break; sleep 0.05; done
grep -q 'from the hub in force: serial 2' "$work/tg.log" || fail "the big bundle was not put in force"
t_done=$EPOCHREALTIME
sleep 0.5
t_end=$EPOCHREALTIME
kill -INT "$pingpid"; wait "$pingpid" 2>/dev/null; pingpid= # SIGINT: ping prints its summary
sleep 0.2
kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null; tcpdump_pid=

# The largest gap between echo requests, in each window; frames counted to
# show the stream really crossed the bridge.
read -r base_ms base_n big_ms big_n < <(/usr/bin/python3 - "$work/gap.pcap" "$t_base" "$t_pub" "$t_end" <<-'PY'
	import struct, sys
	data = open(sys.argv[1], "rb").read()
	t0, t1, t2 = (float(x) for x in sys.argv[2:5])
	magic = struct.unpack_from("<I", data, 0)[0]
	scale = 1e-9 if magic == 0xa1b23c4d else 1e-6
	ts, off = [], 24
	while off + 16 <= len(data):
	    s, frac, incl = struct.unpack_from("<III", data, off)
	    ts.append(s + frac * scale)
	    off += 16 + incl
	def window(a, b):
	    w = [t for t in ts if a <= t <= b]
	    gaps = [y - x for x, y in zip(w, w[1:])]
	    return (max(gaps) * 1000 if gaps else 1e9), len(w)
	b, bn = window(t0, t1)
	g, gn = window(t1, t2)
	print("%.1f %d %.1f %d" % (b, bn, g, gn))
	PY
)
[ -n "${GAP_LOG:-}" ] && cp "$work/tg.log" "$GAP_LOG"
[ -n "${big_ms:-}" ] || fail "no capture to measure"
in_ms=$(awk -v a="$t_pub" -v b="$t_done" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
echo "ota gap: $size bytes in force ${in_ms} ms after publish;" \
	"longest gap between forwarded frames: ${big_ms} ms during the transfer ($big_n frames)," \
	"${base_ms} ms before it ($base_n frames)"
grep 'packets transmitted' "$work/ping.log"
# (fewer frames than 500/s during the transfer: on 2 cores, hub, broker and
# gateway all busy with TLS, ping's own timer runs late; the gap above
# includes that, so it bounds the gateway's pause from above)
[ "$base_n" -gt 200 ] && [ "$big_n" -gt 200 ] || fail "too few frames crossed the bridge ($base_n, $big_n)"
# The bound grows with the machine's own jitter in the same run (the anchor
# before the transfer: 5-6 ms when quiet, tens of ms on a loaded machine
# where the scheduler, not the gateway, makes the gaps) and doubles under
# the sanitizers (every hash and check about 2-3x slower).
bound=$(awk -v m="$GAP_MAX_MS" -v b="$base_ms" -v san="${SAN:-0}" \
	'BEGIN { printf "%.0f", (san == 1 ? 2 * m : m) + 4 * b }')
awk -v g="$big_ms" -v m="$bound" 'BEGIN { exit !(g <= m) }' ||
	fail "forwarding paused ${big_ms} ms while the bundle arrived (bound ${bound} ms: ${GAP_MAX_MS} + 4 x the ${base_ms} ms before it)"
echo "ok: forwarding never paused more than ${bound} ms (${GAP_MAX_MS} + 4 x the ${base_ms} ms before the transfer)"
echo PASS
