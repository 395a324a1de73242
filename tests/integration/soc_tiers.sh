#!/usr/bin/env bash
# Tiers (docs/protocol.md "Tiers"), in the lab: a real gateway on its
# regional broker, and a national broker above it through Mosquitto's own
# bridge, as tg-hub provision writes both sides.
#
#   LAN ns              gateway ns                             WAN ns
#   client ── tg-lan ─ townguard gw-lab (bridge; ─ tg-wan ══ broker lab (10.99.0.1:8883)
#   curl                uplink: lwIP, mutual TLS,                 ══ bridge bridge:lab ══►
#                       tg-hub provision's identity)           broker national (127.0.0.1:8884)
#                                                                 tg-soc collect --region +
#                                                                 (soc:national, SQLite)
#
#   - the national tg-soc stores every record the regional broker
#     acknowledged to gw-lab (its journal, by tg.seq), once, and `members`
#     lists gw-lab online with the serial its retained state published
#     regionally (carried up retained);
#   - with the national broker stopped, the batches gw-lab sends meanwhile
#     wait in the regional broker's bridge session and arrive after the restart;
#   - the bridge identity may write only its own region's topics: a
#     publication as bridge:lab to tg/v1/south/... is not delivered.
#
# A lab test, not a host one: the gateway's uplink is lwIP on its own
# interface (docs/modes.md), so it needs the lab's namespaces and root.
set -uo pipefail
MODE=bridge
LAB_PREFIX=tgT
TOP=$(cd "${TOP:-.}" && pwd) # absolute: the test works in $work
. "$TOP/tests/lab/inline_checks.sh"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
for t in "$MOSQUITTO" mosquitto_pub mosquitto_sub zstd sqlite3 jq; do
	command -v "$t" >/dev/null || [ -x "$t" ] || { echo "skipped: no $t (tools/install-deps)"; exit 77; }
done
soc=$top/${BUILD:-build}/tg-soc
[ -x "$soc" ] || fail "$soc not built"

inline_setup
np=8884
nat=$work/nat
wan() { ip netns exec "$NS_WAN" "$@"; }
nat_pid='' col_pid=''
on_fail() {
	show_log "$work/tg.log" 20
	show_log "$work/national.log" 20
	show_log "$work/broker.log" 20
	show_log "$work/collect.log" 20
}
stop_all() {
	local p
	for p in $col_pid $nat_pid; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	inline_cleanup
}
trap 'stop_all' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

# ---------------------------------------------------------------- provision both tiers
cd "$work" || fail "cannot enter $work"
run 0 "$hub" provision --out "$nat" --region national --broker-host 127.0.0.1 --port "$np" --bridges lab
has out "CN bridge:lab: new"
HUB_PROVISION=(--national "127.0.0.1:$np" --bridge-files "$nat/bridges/lab")
hub_lab_up
has "$pki/broker/mosquitto.conf" "address 127.0.0.1:$np"
has "$pki/broker/mosquitto.conf" "topic gw/+/alert out 1 tg/v1/lab/ tg/v1/lab/"
has "$nat/broker/acl" "topic write tg/v1/lab/gw/+/alert"
has "$nat/broker/acl" "topic read tg/v1/+/gw/+/summary"
# A rerun that only adds a gateway keeps the bridge.
run 0 "$hub" provision --out "$pki" --region lab --broker-host hub.test --broker-ip "$DNS_IP" --gateways gw-n2
has out "--national 127.0.0.1:$np, as $pki/broker/mosquitto.conf says"
has "$pki/broker/mosquitto.conf" "connection tg-national-lab"
echo "ok: provision writes the bridge (lab) and its acl (national); a rerun keeps it"

printf '%s\n' '[report]' 'interval = 2' 'drain_bps = 65536' >>"$work/gw.ini"
chown -R mosquitto: "$nat/broker"
chmod 711 "$nat"
national_start() {
	ip netns exec "$NS_WAN" "$MOSQUITTO" -c "$nat/broker/mosquitto.conf" >>"$work/national.log" 2>&1 &
	nat_pid=$!
	wait_for 10 nat_listening || fail "the national broker does not listen"
}
nat_listening() { wan ss -Hltn "sport = :$np" | grep -q .; }
national_start
wait_log "$work/broker.log" 'Connecting bridge.*tg-national-lab' 10 || fail "the bridge did not start"
db=$work/national.db
ip netns exec "$NS_WAN" "$soc" collect --broker "127.0.0.1:$np" --cert "$nat/soc/soc.crt" --key "$nat/soc/soc.key" \
	--ca "$nat/soc/ca.crt" --region + --client-id soc:national:collect --keepalive 5 \
	--db "sqlite:$db" >"$work/collect.log" 2>&1 &
col_pid=$!
must_log "$work/collect.log" 'connected as soc:national:collect' 10

# ---------------------------------------------------------------- 1. records, members
inline_start
must_log "$work/tg.log" 'uplink\] info: connected to' 20
lan curl -sS -o /dev/null --max-time 10 --cacert "$CA" --resolve "allowed.test:443:$ALLOWED_IP" \
	https://allowed.test/ || fail "curl https://allowed.test/"
lan curl -sS -o /dev/null --max-time 5 --cacert "$CA" --resolve "blocked.test:443:$ALLOWED_IP" \
	https://blocked.test/ 2>/dev/null && fail "blocked.test: connection succeeded"
# seqs: the tg.seq of gw-lab's records in the national store, one a line, sorted (as comm wants).
seqs() { sqlite3 "$db" "SELECT seq FROM records WHERE gateway = 'gw-lab'" 2>/dev/null | sort; }
stored() { # WHERE: gw-lab has such a record in the national store
	[ "$(sqlite3 "$db" "SELECT count(*) FROM records WHERE gateway = 'gw-lab' AND $1" 2>/dev/null)" -ge 1 ]
}
wait_for 20 stored "dataset = 'townguard.summary'" || fail "no summary of gw-lab's in the national store"
wait_for 20 stored "action = 'first_hit' AND rule = '101'" ||
	fail "no first hit of rule 101 from gw-lab in the national store"
member() {
	"$soc" members --db "sqlite:$db" --hub-bundle "$work/lab.bundle" --json >"$work/members.json" 2>/dev/null &&
		jq -e '[.[] | select(.gateway == "gw-lab" and .online == true and .serial == 1 and .hash_match == true)]
			| length == 1' "$work/members.json" >/dev/null
}
wait_for 10 member || fail "members on the national store: $(cat "$work/members.json")"
echo "ok: the national tg-soc stores gw-lab's summaries and its first hit (rule 101) from region lab" \
	"and lists it online at serial 1 (its regional state, carried up)"

# ---------------------------------------------------------------- 2. the national broker down
# The SOC's regional identity sees what gw-lab's broker takes meanwhile: those
# records must reach the national store after the restart.
max=$(seqs | sort -n | tail -n 1)
stop_pids 5 "$nat_pid"
nat_pid=
wan timeout 20 mosquitto_sub -h "$DNS_IP" -p 8883 --cafile "$pki/soc/ca.crt" --cert "$pki/soc/soc.crt" \
	--key "$pki/soc/soc.key" -i soc-outage -t "tg/v1/lab/gw/gw-lab/summary" -C 2 -N >"$work/outage.zst" ||
	fail "no summaries from gw-lab at the regional broker while the national one was down"
# -N: the two payloads (zstd frames with the records' dictionary) one after the other.
zstd -q -d -c -D "$top/firmware/report/records-v2.zdict" "$work/outage.zst" | jq -r '.tg.seq' | sort >"$work/outage.txt"
[ -s "$work/outage.txt" ] || fail "the summaries sent during the outage hold no records"
awk -v m="$max" '$1 <= m { exit 1 }' "$work/outage.txt" ||
	fail "records sent during the outage ($(tr '\n' ' ' <"$work/outage.txt")) were stored before it (up to $max)"
sleep 1
[ -z "$(comm -12 "$work/outage.txt" <(seqs))" ] ||
	fail "records sent to the regional broker reached the national store while it was down"
national_start
arrived() { [ -z "$(comm -23 "$work/outage.txt" <(seqs))" ]; }
wait_for 30 arrived || fail "after the national broker's restart, missing: $(comm -23 "$work/outage.txt" <(seqs) | tr '\n' ' ')"
echo "ok: $(wc -l <"$work/outage.txt") records gw-lab sent while the national broker was down arrive after its restart"

# ---------------------------------------------------------------- 3. once, all of them
inline_stop
# journal: the tg.seq the regional broker acknowledged to gw-lab, sorted.
"$tg" report journal -c "$work/gw.ini" 2>/dev/null | jq -r '.tg.seq' | sort -u >"$work/j.txt"
[ -s "$work/j.txt" ] || fail "gw-lab's journal is empty"
all() { seqs >"$work/s.txt" && [ -z "$(comm -23 "$work/j.txt" "$work/s.txt")" ]; }
wait_for 20 all || fail "records gw-lab's journal has are missing nationally: $(comm -23 "$work/j.txt" "$work/s.txt" | head | tr '\n' ' ')"
[ -z "$(seqs | uniq -d)" ] || fail "a tg.seq of gw-lab stored twice nationally: $(seqs | uniq -d | tr '\n' ' ')"
echo "ok: every record of gw-lab's journal ($(wc -l <"$work/j.txt")) is in the national store, once"

# ---------------------------------------------------------------- 4. the bridge's region only
BR=(-h 127.0.0.1 -p "$np" --cafile "$nat/bridges/lab/ca.crt" --cert "$nat/bridges/lab/bridge.crt"
	--key "$nat/bridges/lab/bridge.key" -q 1)
wan timeout 5 mosquitto_sub -h 127.0.0.1 -p "$np" --cafile "$nat/soc/ca.crt" --cert "$nat/soc/soc.crt" \
	--key "$nat/soc/soc.key" -t 'tg/v1/+/gw/+/alert' -C 1 -W 3 -i probe-sub >"$work/south.out" 2>/dev/null &
sub=$!
sleep 0.5
wan mosquitto_pub "${BR[@]}" -i probe-pub -t tg/v1/south/gw/gw-s1/alert -m x 2>/dev/null
wait "$sub"
[ -s "$work/south.out" ] && fail "bridge:lab wrote into region south: $(cat "$work/south.out")"
echo "ok: the bridge identity cannot write another region's topics"
kill -TERM "$col_pid"
wait "$col_pid" || fail "the national collector: exit $? on SIGTERM"
col_pid=''
echo PASS
