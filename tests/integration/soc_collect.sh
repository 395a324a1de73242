#!/usr/bin/env bash
# tg-soc collect end to end, in the lab (docs/tg-soc.md): two real gateways
# send their reports over lwIP MQTT with mutual TLS to a real Mosquitto, and
# two collectors with the SOC's own certificate (tg-hub provision's soc
# identity: reads the gateways' topics, writes nothing) store them, one in
# SQLite, one in a real PostgreSQL server started here (tests/pg-scratch).
#
#   LAN ns               gateway ns                                WAN ns
#   client ── tg-lan ─ townguard gw-lab (bridge) ─ tg-wan ══ eth0: dnsmasq, SNTP, Mosquitto,
#                      townguard gw-two (monitor on tg-wan)        tg-soc collect x2
#
#   1. while both gateways report every 2 s: the SQLite collector is killed
#      (SIGKILL) and started again, and the broker is restarted; at the end
#      every record a gateway's journal says the broker acknowledged is in
#      both stores, once (by tg.seq), and both stores hold the same records;
#   2. a batch published with gw-lab's certificate whose middle record fails
#      its schema: that record refused with a logged reason (topic, record
#      index, dataset, field, value, what is allowed), the other two stored;
#   3. a bundle signed by another key (gw-lab refuses it) and gw-two killed
#      (its last will): `members` shows gw-lab online with the refusal and
#      gw-two offline, the same from both stores;
#   4. the SOC's certificate may not publish (MQTT 5: the broker says so);
#      SIGTERM stops a collector cleanly.
set -uo pipefail
MODE=bridge
LAB_PREFIX=tgS
HUB_GATEWAYS=gw-lab,gw-two
. "${TOP:-.}/tests/lab/inline_checks.sh"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
for t in "$MOSQUITTO" mosquitto_pub zstd sqlite3 psql; do
	command -v "$t" >/dev/null || [ -x "$t" ] || { echo "skipped: no $t (tools/install-deps)"; exit 77; }
done
soc=$top/${BUILD:-build}/tg-soc
[ -x "$soc" ] || fail "$soc not built"

inline_setup
hub_lab_up
printf '%s\n' '[report]' 'interval = 2' 'drain_bps = 65536' >>"$work/gw.ini"
# gw-two: monitor mode on tg-wan, its own flash, keys and management MAC.
mkdir -p "$work/data-two/keys"
cp "$work/data/keys/hub.pub" "$pki/ca.crt" "$pki/gateways/gw-two/gw.key" "$pki/gateways/gw-two/gw.crt" \
	"$work/data-two/keys/"
sed -e 's/^id = gw-lab/id = gw-two/' -e "s|^data_dir = .*|data_dir = $work/data-two|" \
	-e 's/^mode = bridge/mode = monitor/' -e 's/^\[ports\]/[capture]\ninterface = tg-wan\n[ports]/' \
	-e 's/^\[mgmt\]/[mgmt]\nport = tg-wan/' "$work/gw.ini" | grep -v '^lan = \|^wan = ' >"$work/two.ini"
"$tg" bundle install "$work/lab.bundle" -c "$work/two.ini" | grep -q '^accepted' || fail "bundle install (gw-two)"

pg=$work/pg
chmod 711 "$work"
pg_url=$("$top/tests/pg-scratch" start "$pg") || fail "PostgreSQL did not start: $pg_url"
sqlite_db=$work/soc.db
declare -A soc_pid=()
two_pid=
on_fail() {
	show_log "$work/tg.log" 20
	show_log "$work/two.log" 20
	show_log "$work/soc-sqlite.log" 30
	show_log "$work/soc-pg.log" 30
	show_log "$work/broker.log" 20
}
stop_all() {
	local p
	for p in "${soc_pid[@]}" $two_pid; do kill -KILL "$p" 2>/dev/null; done
	"$top/tests/pg-scratch" stop "$pg"
	inline_cleanup
}
trap 'stop_all' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

# collector NAME DB: tg-soc collect in the WAN namespace (where the broker is), log appended.
collector() {
	ip netns exec "$NS_WAN" "$soc" collect --broker "$DNS_IP:8883" --ca "$pki/soc/ca.crt" \
		--cert "$pki/soc/soc.crt" --key "$pki/soc/soc.key" --region $R --db "$2" \
		--client-id "soc:$R:$1" --keepalive 5 --retain 30d >>"$work/soc-$1.log" 2>&1 &
	soc_pid[$1]=$!
}
broker_pid() {
	local p
	for p in $(ip netns pids "$NS_WAN"); do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$(readlink -f "$MOSQUITTO")" ] && echo "$p"
	done
}
soc_q() { "$soc" "$@"; }
# seqs DB GATEWAY: the tg.seq stored for GATEWAY, one a line, sorted.
seqs() {
	if [ "$1" = sqlite ]; then
		sqlite3 "$sqlite_db" "SELECT seq FROM records WHERE gateway = '$2' ORDER BY seq"
	else
		psql -qAt "$pg_url" -c "SELECT seq FROM records WHERE gateway = '$2' ORDER BY seq"
	fi
}
# journal INI: the tg.seq the broker acknowledged to that gateway, sorted.
journal() {
	"$tg" report journal -c "$1" 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print("\n".join(str(s) for s in sorted({json.loads(l)["tg"]["seq"] for l in sys.stdin if l.strip()})))'
}
# has_all DB GATEWAY INI: every acknowledged record of the gateway is in DB.
has_all() {
	journal "$3" >"$work/j.txt"
	[ -s "$work/j.txt" ] || return 1
	seqs "$1" "$2" >"$work/s.txt"
	[ -z "$(comm -23 "$work/j.txt" "$work/s.txt")" ]
}

collector sqlite "sqlite:$sqlite_db"
collector pg "$pg_url"
must_log "$work/soc-sqlite.log" 'connected as soc:lab:sqlite' 10
must_log "$work/soc-pg.log" 'connected as soc:lab:pg' 10

# ---------------------------------------------------------------- 1. restarts, kills
inline_start
ip netns exec "$NS_GW" "$tg" run -c "$work/two.ini" >/dev/null 2>"$work/two.log" &
two_pid=$!
must_log "$work/tg.log" 'uplink\] info: connected to' 15
must_log "$work/two.log" 'uplink\] info: connected to' 15
lan curl -sS -o /dev/null --max-time 10 --cacert "$CA" --resolve "allowed.test:443:$ALLOWED_IP" \
	https://allowed.test/ || fail "curl https://allowed.test/"
lan curl -sS -o /dev/null --max-time 5 --cacert "$CA" --resolve "blocked.test:443:$ALLOWED_IP" \
	https://blocked.test/ 2>/dev/null && fail "blocked.test: connection succeeded"
must_log "$work/soc-sqlite.log" 'gw-lab/summary: [0-9]+ records: [1-9]' 10
must_log "$work/soc-sqlite.log" 'gw-two/summary: [0-9]+ records: [1-9]' 10

kill -KILL "${soc_pid[sqlite]}"; wait "${soc_pid[sqlite]}" 2>/dev/null
lan ping -q -c 10 -i 0.2 "$ALLOWED_IP" >/dev/null
collector sqlite "sqlite:$sqlite_db"
must_log "$work/soc-sqlite.log" 'connected as soc:lab:sqlite.*' 10
echo "ok: the SQLite collector killed (SIGKILL) mid-stream and started again"

bp=$(broker_pid)
[ -n "$bp" ] || fail "no broker process in $NS_WAN"
kill -TERM "$bp"
wait_for 5 eval '! alive '"$bp" || fail "the broker did not stop"
ip netns exec "$NS_WAN" "$MOSQUITTO" -c "$pki/broker/mosquitto.conf" >>"$work/broker.log" 2>&1 &
wait_for 5 eval '[ -n "$(broker_pid)" ]' || fail "the broker did not start again"
must_log "$work/soc-pg.log" 'reconnecting' 10
wait_for 40 eval '[ "$(grep -c "connected as soc:lab:pg" "$work/soc-pg.log")" -ge 2 ]' ||
	fail "the PostgreSQL collector did not reconnect after the broker restart"
lan curl -sS -o /dev/null --max-time 10 --cacert "$CA" --resolve "allowed.test:443:$ALLOWED_IP" \
	https://allowed.test/ || fail "curl https://allowed.test/ after the broker restart"
echo "ok: the broker restarted; the collectors reconnected"

# ---------------------------------------------------------------- 2. a bad record in a batch
# A summary of gw-lab's to copy: its first record may be an alert (a device or a
# console event), which the summary topic refuses for its kind before its TLP.
first_summary=$(sqlite3 "$sqlite_db" "SELECT seq FROM records WHERE gateway = 'gw-lab' AND dataset = 'townguard.summary' ORDER BY seq LIMIT 1")
[ -n "$first_summary" ] || fail "no summary of gw-lab's in SQLite"
"$soc" show --db "sqlite:$sqlite_db" gw-lab "$first_summary" >"$work/one.json" ||
	fail "tg-soc show"
/usr/bin/python3 - "$work/one.json" >"$work/bad.jsonl" <<-'EOF'
	import json, sys
	r = json.load(open(sys.argv[1]))
	for seq, tlp in ((900001, "amber"), (900002, "white"), (900003, "green")):
	    r["tg"]["seq"] = seq
	    r["labels"]["tlp"] = tlp
	    print(json.dumps(r, separators=(",", ":")))
	EOF
zstd -q -c "$work/bad.jsonl" >"$work/bad.zst"
ip netns exec "$NS_WAN" mosquitto_pub -h "$DNS_IP" -p 8883 --cafile "$pki/ca.crt" \
	--cert "$pki/gateways/gw-lab/gw.crt" --key "$pki/gateways/gw-lab/gw.key" -i gw-lab-crafted -q 1 \
	-t "tg/v1/$R/gw/gw-lab/summary" -f "$work/bad.zst" || fail "mosquitto_pub of the crafted batch"
for db in sqlite pg; do
	must_log "$work/soc-$db.log" 'gw-lab/summary: record 1: townguard.summary: refused: labels.tlp = "white": allowed one of \["clear","green","amber","amber\+strict","red"\]' 10
	wait_for 5 eval '[ "$(seqs '$db' gw-lab | grep -c "^90000[13]$")" = 2 ]' ||
		fail "$db: the two good records of the crafted batch are not stored"
	[ "$(seqs $db gw-lab | grep -c '^900002$')" = 0 ] || fail "$db: the refused record was stored"
done
echo "ok: a record failing its schema refused with the reason, the rest of its batch stored:"
grep -m 1 'refused: labels.tlp' "$work/soc-pg.log"

# ---------------------------------------------------------------- 3. members
"$hub" keygen --out "$work/rogue" >/dev/null
"$hub" build --key "$work/rogue/hub.key" --region lab --serial 3 --out "$work/rogue.bundle" \
	domains:"$work/host.txt" >/dev/null || fail "build the rogue bundle"
ip netns exec "$NS_WAN" "$hub" publish "${HUB[@]}" "$work/rogue.bundle" >/dev/null 2>&1 ||
	fail "publish the rogue bundle"
must_log "$work/tg.log" 'refused' 10
kill -KILL "$two_pid"; wait "$two_pid" 2>/dev/null; two_pid=
member() { # member DB: gw-lab with the refusal, gw-two offline
	"$soc" members --db "$1" --hub-bundle "$work/lab.bundle" --json >"$work/members.json" &&
		/usr/bin/python3 - "$work/members.json" <<-'EOF'
	import json, sys
	m = {r["gateway"]: r for r in json.load(open(sys.argv[1]))}
	a, b = m.get("gw-lab"), m.get("gw-two")
	ok = (a and b and a["online"] and (a["last_refusal"] or {}).get("reason") == "signature"
	      and a["serial"] == 1 and a["serial_current"] and a["hash_match"] and not b["online"]
	      and a["last_summary"] and a["alerts_24h"] >= 2)
	sys.exit(0 if ok else 1)
	EOF
}
for db in "sqlite:$sqlite_db" "$pg_url"; do
	wait_for 30 member "$db" || { cat "$work/members.json"; fail "members ($db): not gw-lab online with the refusal and gw-two offline"; }
done
"$soc" members --db "sqlite:$sqlite_db" --hub-bundle "$work/lab.bundle" | tee "$work/members.txt"
grep -q '^gw-lab .*online .*1 ok .*signature 3' "$work/members.txt" || fail "the members table lacks gw-lab's line"
grep -q '^gw-two .*offline' "$work/members.txt" || fail "the members table lacks gw-two offline"
awk 'length > 80 { exit 1 }' "$work/members.txt" || fail "members: a line wider than 80 columns"
"$soc" alerts --db "$pg_url" --since 1h --member gw-lab --kind first_hit >"$work/alerts.txt"
grep -q 'first_hit .*101 .*blocked.test' "$work/alerts.txt" || { cat "$work/alerts.txt"; fail "alerts: no first hit of rule 101"; }
echo "ok: members shows gw-lab's refused bundle and gw-two offline; alerts the first hit"

# ---------------------------------------------------------------- 1 (end). nothing lost or doubled
inline_stop
for db in sqlite pg; do
	wait_for 20 has_all $db gw-lab "$work/gw.ini" ||
		fail "$db: records gw-lab's journal has are missing: $(comm -23 "$work/j.txt" "$work/s.txt" | head | tr '\n' ' ')"
	wait_for 20 has_all $db gw-two "$work/two.ini" ||
		fail "$db: records gw-two's journal has are missing: $(comm -23 "$work/j.txt" "$work/s.txt" | head | tr '\n' ' ')"
	for gw in gw-lab gw-two; do
		[ -z "$(seqs $db $gw | uniq -d)" ] || fail "$db: a tg.seq of $gw stored twice"
	done
done
for gw in gw-lab gw-two; do
	diff <(seqs sqlite $gw) <(seqs pg $gw) >/dev/null || fail "$gw: SQLite and PostgreSQL hold different records"
done
echo "ok: every acknowledged record of both gateways is in SQLite and PostgreSQL once:" \
	"gw-lab $(seqs pg gw-lab | wc -l), gw-two $(seqs pg gw-two | wc -l) records;" \
	"duplicates dropped: $(grep -o '[0-9]* duplicates' "$work"/soc-*.log | awk '{ n += $1 } END { print n }')"

# ---------------------------------------------------------------- 4. read-only; SIGTERM
ip netns exec "$NS_WAN" mosquitto_pub -V mqttv5 -h "$DNS_IP" -p 8883 --cafile "$pki/ca.crt" \
	--cert "$pki/soc/soc.crt" --key "$pki/soc/soc.key" -i soc-writes -q 1 \
	-t "tg/v1/$R/gw/gw-lab/cmd" -m x >"$work/pub.out" 2>&1
grep -qi 'not authorized' "$work/pub.out" || fail "the SOC's certificate could publish: $(cat "$work/pub.out")"
for db in sqlite pg; do
	kill -TERM "${soc_pid[$db]}"
	wait "${soc_pid[$db]}" || fail "$db collector: exit $? on SIGTERM"
	soc_pid[$db]=
	grep -q 'collect: stopping: ' "$work/soc-$db.log" || fail "$db collector: no clean stop"
done
echo "ok: the SOC may not publish; SIGTERM stops the collectors cleanly"
