#!/usr/bin/env bash
# Reports from the live gateway, end to end, in the lab: townguard in bridge
# mode with [report] interval = 2 sends its summaries and alerts through the
# spool, over lwIP MQTT with mutual TLS, to a real Mosquitto; a SOC
# subscriber with its own certificate takes every message (report_check.py:
# zstd frames of JSON lines, deduplicated by observer.id and tg.seq) and
# every record is checked against its schema (tests/report_schema.py).
#
#   LAN ns                gateway ns                          WAN ns
#   client 10.99.0.10 ── tg-lan ─ townguard (bridge) ─ tg-wan ── servers 10.99.0.2...,
#   curl, tcpdump on eth0                                     dnsmasq (DNS, DHCP), SNTP,
#   (the reference)                                           Mosquitto, mosquitto_sub (SOC)
#
#   0. one batch of 10 KB and more arrives whole (report_probe --pad: records
#      of random text zstd cannot shrink; no record cut);
#   1. the client's HTTPS downloads from allowed.test appear in the summaries:
#      bytes per application over the summaries equal those of a capture of
#      the wire on the client's side (offloads off there: frames as they
#      were sent) replayed with `townguard replay --reports`: the gateway's
#      ports read GRO-coalesced frames and count each as its wire segments;
#   2. a blocked connection (SNI blocked.test, rule 101) gives exactly one
#      first-hit alert; the hub's signed `report` command sends a summary now;
#      the LAN link lost and back, a bundle signed by another key: link_down,
#      link_up and bundle_refused alerts;
#   3. a WAN outage (black hole, as report_spool.sh makes) of 20 s: afterwards
#      every record arrives exactly once by tg.seq (no hole from the first to
#      the last, none beyond what the gateway says it still holds), those of
#      the outage marked tg.replayed;
#   4. at the default privacy level no internal address or MAC of the lab, in
#      any form (dotted, hex, colon or dash MAC, bytes), is in any byte the
#      subscriber received, decompressed; the same scan finds the client's
#      address in records with internal_addresses = raw (it can fail);
#   5. a full spool (64 KiB, filled by the probe while the broker refuses
#      connections): the gateway's summary pushes records out, and a
#      spool_drop alert saying so reaches the SOC.
set -uo pipefail
MODE=bridge
LAB_PREFIX=tgW
. "${TOP:-.}/tests/lab/inline_checks.sh"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
for t in "$MOSQUITTO" mosquitto_sub zstd iptables tcpdump; do
	command -v "$t" >/dev/null || [ -x "$t" ] || { echo "skipped: no $t (tools/install-deps)"; exit 77; }
done
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || fail "python3-jsonschema is missing: run tools/install-deps"
probe=$top/${BUILD:-build}/tests/report_probe
check=$top/tests/lab/report_check.py
[ -x "$probe" ] || fail "$probe not built"
OUTAGE=${OUTAGE_SECONDS:-20}

inline_setup
hub_lab_up
printf '%s\n' '[report]' 'interval = 2' 'drain_bps = 65536' >>"$work/gw.ini"
sub_pid= probe_pid=
on_fail() {
	show_log "$work/tg.log" 40
	show_log "$work/probe.log" 20
	show_log "$work/sub.err"
	show_log "$work/check.out"
}
stop_all() {
	[ -n "$probe_pid" ] && kill -KILL "$probe_pid" 2>/dev/null
	[ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null
	inline_cleanup
}
trap 'stop_all' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

# subscribe NAME: the SOC, a persistent QoS 1 session, into $work/NAME.out
subscribe() {
	ip netns exec "$NS_WAN" mosquitto_sub -h "$DNS_IP" -p 8883 --cafile "$pki/ca.crt" \
		--cert "$pki/hub/hub-client.crt" --key "$pki/hub/hub-client.key" -i "soc-$1" -c -q 1 \
		-t "tg/v1/$R/gw/gw-lab/#" -F '%t %x' >"$work/$1.out" 2>>"$work/sub.err" &
	sub_pid=$!
	sleep 0.3
}
# received ARGS...: report_check.py over what the subscriber has so far
received() { "$check" "$work/live.out" - --records "$work/records.jsonl" "$@" >"$work/check.out" 2>&1; }
connections() { grep -c 'uplink\] info: connected to' "$work/tg.log"; }
wan() {
	local op=-I
	[ "$1" = up ] && op=-D
	ip netns exec "$NS_WAN" iptables -w "$op" INPUT -i eth0 -j DROP &&
		ip netns exec "$NS_WAN" iptables -w "$op" OUTPUT -o eth0 -j DROP || fail "iptables $op"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---------------------------------------------------------------- 0. a 10 KB batch
# The probe has a flash of its own (its tg.seq are not the gateway's).
mkdir -p "$work/probe-data"
cp -r "$work/data/keys" "$work/probe-data/"
sed "s|^data_dir = .*|data_dir = $work/probe-data|" "$work/gw.ini" >"$work/probe.ini"
subscribe probe
ip netns exec "$NS_GW" "$probe" -c "$work/probe.ini" --iface tg-wan --every 300 --count 2 --pad 14000 \
	>"$work/puts" 2>"$work/probe.log" &
probe_pid=$!
big_arrived() { "$check" "$work/probe.out" "$work/puts" --min-message 10240 >"$work/check.out" 2>&1 &&
	[ "$(grep -c '^put ' "$work/puts")" = 2 ]; }
wait_for 20 big_arrived || fail "no whole 10 KB batch arrived: $(cat "$work/check.out")"
kill -TERM "$probe_pid"; wait "$probe_pid"; probe_pid=
kill "$sub_pid"; wait "$sub_pid" 2>/dev/null; sub_pid=
echo "ok: a batch of 10 KB and more arrives whole: $(cat "$work/check.out")"
# The broker tg-hub provisions takes ChaCha20-Poly1305 first: no explicit nonce in a TLS record.
conn=$(grep -m 1 'connected to .* as gw:' "$work/probe.log") || fail "no connection line in $work/probe.log"
case "$conn" in
*"(TLSv1.2, TLS-ECDHE-"*"-WITH-CHACHA20-POLY1305-SHA256)") echo "ok: the uplink's TLS: ${conn##* (}" ;;
*) fail "the uplink did not negotiate TLS 1.2 with ChaCha20-Poly1305: $conn" ;;
esac

# ---------------------------------------------------------------- 1. traffic in the summaries
subscribe live
# The wire between the client and the gateway, both ways, on the client's eth0 (the lab
# turns its offloads off: every frame as it was sent). The gateway's ports read GRO-coalesced
# frames (drivers/afpacket.c) and must count each as the segments it was on this wire.
ip netns exec "$NS_LAN" tcpdump -i eth0 --immediate-mode -B 32768 -U -s 0 -w "$work/lan.pcap" \
	"tcp port 443 and host $CLIENT_IP" >/dev/null 2>"$work/tcpdump-lan.log" &
cap_pids=($!)
wait_log "$work/tcpdump-lan.log" 'listening on' 5 || fail "tcpdump on the client's eth0 did not start"
inline_start
wait_log "$work/tg.log" 'uplink\] info: connected to' 15
[ "$(connections)" -ge 1 ] || fail "the gateway did not connect to the broker"
grep -q 'reports: a summary every 2 s to the uplink' "$work/tg.log" || fail "reports not started"
for path in /big.bin / /; do
	lan curl -sS -o /dev/null --max-time 10 --cacert "$CA" --resolve "allowed.test:443:$ALLOWED_IP" \
		"https://allowed.test$path" || fail "curl https://allowed.test$path"
done
sleep 0.5
kill "${cap_pids[@]}"; wait "${cap_pids[@]}" 2>/dev/null
grep -q '^0 packets dropped by kernel' "$work/tcpdump-lan.log" ||
	fail "the capture on the client's eth0 lost frames: $(cat "$work/tcpdump-lan.log")"
# A byte at time t is in the summary of an interval that ends by t + 2 s (the interval
# under way when the loop accounts it, or an earlier one when its tick is late).
cut_ms=$(($(now_ms) + 2500))
# What the same frames make in a replay: the reference.
"$tg" replay "$work/lan.pcap" --reports -o gateway.data_dir="$work/replay-data" -o report.interval=86400 \
	>"$work/replay.jsonl" 2>/dev/null || fail "replay of the LAN capture"
# Once a summary past cut_ms is in, every earlier one is (oldest first, no hole), and no
# later traffic can go into them.
summarized_past() {
	received && /usr/bin/python3 -c '
import datetime, json, sys
ends = [datetime.datetime.fromisoformat(r["event"]["end"].replace("Z", "+00:00")).timestamp() * 1000
        for r in map(json.loads, open(sys.argv[1])) if r["event"]["dataset"] == "townguard.summary"]
sys.exit(not ends or max(ends) < int(sys.argv[2]))' "$work/records.jsonl" "$1"
}
wait_for 15 summarized_past "$cut_ms" || fail "no summary past the traffic arrived: $(cat "$work/check.out")"
/usr/bin/python3 - "$work/records.jsonl" "$work/replay.jsonl" "$cut_ms" <<-'EOF' || fail "summaries and the capture disagree"
	import datetime, json, sys
	def apps(path, cut=None):
	    out = {}
	    for line in open(path):
	        r = json.loads(line)
	        if r["event"]["dataset"] != "townguard.summary":
	            continue
	        end = datetime.datetime.fromisoformat(r["event"]["end"].replace("Z", "+00:00")).timestamp() * 1000
	        if cut is not None and end > cut:
	            continue
	        for a in r["tg"]["summary"]["applications"]:
	            out[a["name"]] = out.get(a["name"], 0) + a["bytes"]
	    return out
	live, ref = apps(sys.argv[1], int(sys.argv[3])), apps(sys.argv[2])
	if not ref or sum(ref.values()) < 4 << 20:
	    sys.exit(f"the reference has {ref}: not the 4 MiB download")
	bad = {k: (live.get(k), v) for k, v in ref.items() if live.get(k) != v}
	print("bytes per application, live summaries vs the capture replayed:",
	      {k: (live.get(k), v) for k, v in ref.items()})
	if bad:
	    sys.exit(f"differ (live, capture): {bad}")
	EOF
echo "ok: the client's HTTPS traffic is in the summaries, bytes per application as the capture's"

# ---------------------------------------------------------------- 2. one first hit; report now
lan curl -sS -o /dev/null --max-time 5 --cacert "$CA" --resolve "blocked.test:443:$ALLOWED_IP" \
	https://blocked.test/ 2>/dev/null && fail "blocked.test: connection succeeded"
first_hits() { grep -c '"action": "first_hit"' "$work/records.jsonl"; }
alerted() { received && [ "$(first_hits)" -ge 1 ]; }
wait_for 10 alerted || fail "no first-hit alert arrived: $(cat "$work/check.out")"
# The hub's `report`, while a ping keeps every interval busy: a summary of the interval so far.
lan ping -q -c 60 -i 0.05 "$ALLOWED_IP" >/dev/null &
ping_pid=$!
sleep 0.5
# A command the gateway takes just as an interval ends finds the new one empty (the interval's
# own summary counted everything up to then) and says so: the hub asks again a moment later.
took() { [ "$(grep -c 'reports: the hub asked' "$work/tg.log")" -ge "$1" ]; }
for try in 1 2 3; do
	ip netns exec "$NS_WAN" "$hub" cmd "${HUB[@]}" --sign-key "$work/hub/hub.key" --gateway gw-lab report \
		>/dev/null 2>&1 || fail "tg-hub cmd report"
	wait_for 5 took "$try" ||
		fail "the gateway did not take report command $try"
	grep -q 'the hub asked: a summary of the interval so far sent' "$work/tg.log" && break
	sleep 0.7
done
grep -q 'the hub asked: a summary of the interval so far sent' "$work/tg.log" ||
	fail "3 report commands sent no summary: $(grep 'the hub asked' "$work/tg.log")"
wait "$ping_pid"
partial() {
	received && /usr/bin/python3 -c '
import json, sys
sys.exit(not any(r["event"]["dataset"] == "townguard.summary" and r["event"]["duration"] < 2 * 10**9
                 for r in map(json.loads, open(sys.argv[1]))))' "$work/records.jsonl"
}
wait_for 5 partial || fail "no summary of part of an interval arrived after the report command"
echo "ok: the hub's report command sends the summary of the interval so far"

# The gateway's own alerts: the LAN cable pulled and put back (the client's end of
# the link goes down: tg-lan loses its carrier), a bundle signed by another key.
lan ip link set eth0 down
sleep 1.5
lan ip link set eth0 up
"$hub" keygen --out "$work/rogue" >/dev/null
"$hub" build --key "$work/rogue/hub.key" --region lab --serial 3 --out "$work/rogue.bundle" \
	domains:"$work/host.txt" >/dev/null || fail "build the rogue bundle"
ip netns exec "$NS_WAN" "$hub" publish "${HUB[@]}" "$work/rogue.bundle" >/dev/null 2>&1 ||
	fail "publish the rogue bundle"
own_alerts() {
	received && /usr/bin/python3 -c '
import json, sys
got = set()
for r in map(json.loads, open(sys.argv[1])):
    a = r["tg"].get("alert", {})
    got.add((a.get("type"), a.get("port") or a.get("reason")))
want = {("link_down", "tg-lan"), ("link_up", "tg-lan"), ("bundle_refused", "signature")}
sys.exit(not want <= got)' "$work/records.jsonl"
}
wait_for 10 own_alerts || fail "no link_down, link_up and bundle_refused alerts: $(grep -o '"alert": {[^}]*}' "$work/records.jsonl")"
echo "ok: the gateway's own alerts: tg-lan link down and up, a bundle refused (signature)"

# ---------------------------------------------------------------- 3. a WAN outage
sleep 1
n0=$(connections)
wan down
sleep "$OUTAGE"
wan up
more_connections() { [ "$(connections)" -gt "$n0" ]; }
wait_for 30 more_connections || fail "the gateway did not connect again after the outage"
# Every record of the outage is in: as many replayed as summaries it took, and no hole.
drained() { received --min-replayed $((OUTAGE / 2 - 2)); }
wait_for 30 drained || fail "the outage's records did not all arrive: $(cat "$work/check.out")"
sleep 1
inline_stop
received || fail "after the stop: $(cat "$work/check.out")"
stop_line=$(grep -o 'reports: stopped: .*' "$work/tg.log") || fail "no reports line at the stop"
echo "    $stop_line"
/usr/bin/python3 - "$work/records.jsonl" "$stop_line" <<-'EOF' || fail "records lost"
	import json, re, sys
	seqs = sorted(json.loads(l)["tg"]["seq"] for l in open(sys.argv[1]))
	m = re.search(r"(\d+) wait on flash .*next tg.seq (\d+)", sys.argv[2])
	waiting, nxt = int(m.group(1)), int(m.group(2))
	# a fresh flash: tg.seq from 1; what is not on flash any more arrived (no hole, report_check)
	if seqs[0] != 1 or seqs[-1] + waiting < nxt - 1:
	    sys.exit(f"received tg.seq {seqs[0]}..{seqs[-1]}; the gateway put up to {nxt - 1}, {waiting} wait")
	print(f"tg.seq 1..{seqs[-1]} all arrived once after deduplication; {waiting} (the last) wait for the next start")
	EOF
echo "ok: ${OUTAGE} s WAN outage: $(cat "$work/check.out")"
n=$(first_hits)
[ "$n" = 1 ] || fail "$n first-hit alerts for one blocked connection, not 1"
grep -q '"rule": {"id": "101"}' "$work/records.jsonl" || fail "the first-hit alert does not name rule 101"
echo "ok: one blocked connection, exactly one first-hit alert (rule 101)"
"$top/tests/report_schema.py" "$work/records.jsonl" >"$work/schema.log" ||
	{ cat "$work/schema.log"; fail "records outside their schema"; }
echo "ok: every record in its schema: $(tail -n 1 "$work/schema.log")"

# ---------------------------------------------------------------- 4. privacy
received --bytes "$work/received.bin" || fail "$(cat "$work/check.out")"
mgmt_ip=$(sed -n 's/.*management address \([0-9.]*\) (DHCP).*/\1/p' "$work/tg.log" | head -n 1)
"$tg" replay "$work/lan.pcap" --reports -o gateway.data_dir="$work/replay-data" \
	-o report.internal_addresses=raw -o report.macs=raw >"$work/raw.jsonl" 2>/dev/null
scan() {
	/usr/bin/python3 - "$1" "$CLIENT_IP" "$DNS_IP" "$ALLOWED_IP" "$IPBLOCK_IP" "$BOUND_IP" \
		"$HTTPBLOCK_IP" ${mgmt_ip:+"$mgmt_ip"} "$CLIENT_IP6" "$DNS_IP6" "$ALLOWED_IP6" \
		"$CLIENT_MAC" "$SERVER_MAC" "$GW_LAN_MAC" "$GW_WAN_MAC" <<-'EOF'
	import ipaddress, sys
	data = open(sys.argv[1], "rb").read()
	found = []
	for v in sys.argv[2:]:
	    if ":" in v and len(v) == 17 and v.count(":") == 5:   # a MAC
	        b = bytes.fromhex(v.replace(":", ""))
	        forms = [v, v.replace(":", "-"), v.replace(":", "")]
	    else:
	        a = ipaddress.ip_address(v)
	        b = a.packed
	        forms = [str(a), a.exploded, b.hex()]
	    forms = {f for x in forms for f in (x.lower(), x.upper())}
	    for f in sorted(forms):
	        if f.encode() in data:
	            found.append(f)
	    if b in data:
	        found.append(f"{v} as bytes")
	print(f"{len(data)} bytes, {len(found)} lab addresses or MACs found{': ' if found else ''}{', '.join(found)}")
	sys.exit(1 if found else 0)
	EOF
}
out=$(scan "$work/raw.jsonl") && fail "the scan is blind: nothing found in raw records ($out)"
out=$(scan "$work/received.bin") || fail "at the default privacy level: $out"
echo "ok: no internal address or MAC in what the SOC received: $out"

# ---------------------------------------------------------------- 5. the spool full
# A flash of its own, bounded at 64 KiB: four segments of 16 KiB, each filled by one
# record of the probe's (its own subscriber: the probe's tg.seq start at 1 too). The
# broker refuses connections meanwhile, so nothing leaves; the gateway's first summary
# then pushes the oldest segment out, and its spool_drop alert must reach the SOC.
kill "$sub_pid"; wait "$sub_pid" 2>/dev/null; sub_pid=
subscribe full
mkdir -p "$work/full-data"
cp -r "$work/data/keys" "$work/data/bundle" "$work/full-data/"
sed "s|^data_dir = .*|data_dir = $work/full-data|" "$work/gw.ini" >"$work/full.ini"
echo 'spool_kb = 64' >>"$work/full.ini" # the file ends in [report]
broker() {
	local op=-I
	[ "$1" = open ] && op=-D
	ip netns exec "$NS_WAN" iptables -w "$op" INPUT -i eth0 -p tcp --dport 8883 -j REJECT --reject-with tcp-reset ||
		fail "iptables $op"
}
broker closed
: >"$work/puts"
ip netns exec "$NS_GW" "$probe" -c "$work/full.ini" --iface tg-wan --every 20 --pad 16100 \
	>"$work/puts" 2>"$work/probe.log" &
probe_pid=$!
six_put() { [ "$(grep -c '^put ' "$work/puts")" -ge 6 ]; }
wait_for 10 six_put || fail "the probe did not fill the spool: $(cat "$work/puts")"
kill -TERM "$probe_pid"; wait "$probe_pid"; probe_pid=
grep -q 'spool full' "$work/probe.log" || fail "the probe's records did not fill the spool"
ip netns exec "$NS_GW" "$tg" run -c "$work/full.ini" >/dev/null 2>"$work/tg.log" &
tgpid=$!
must_log "$work/tg.log" 'spool full .*dropping [1-9][0-9]* summary' 10
broker open
spool_drop_alert() {
	"$check" "$work/full.out" /dev/null --allow-unknown --records "$work/full.jsonl" >"$work/check.out" 2>&1 &&
		grep -q '"type": "spool_drop".*"records": "summary"' "$work/full.jsonl"
}
wait_for 30 spool_drop_alert || fail "no spool_drop alert arrived: $(cat "$work/check.out")"
inline_stop
grep '"spool_drop"' "$work/full.jsonl" >"$work/drop.jsonl"
"$top/tests/report_schema.py" "$work/drop.jsonl" >"$work/schema.log" ||
	{ cat "$work/schema.log"; fail "the spool_drop alert is outside its schema"; }
echo "ok: the spool full: $(grep -o '"records": "summary", "dropped": [0-9]*' "$work/drop.jsonl" | head -n 1) in a spool_drop alert"
echo PASS
