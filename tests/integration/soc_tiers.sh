#!/usr/bin/env bash
# Tiers (docs/protocol.md "Tiers"): a national broker above a regional one,
# through Mosquitto's own bridge, as tg-hub provision writes both sides.
#
#   gateway gw-n1 ──mTLS──► broker north (127.0.0.1:A) ══ bridge bridge:north ══► broker national (127.0.0.1:B)
#   (mosquitto_pub with its                 tg/v1/north/gw/+/summary|alert|asset|state out            │
#    certificate: zstd batches of                                                  tg-soc collect --region +
#    its records, its retained state)                                              (soc:national, SQLite)
#
#   - the national tg-soc stores every record gw-n1 sent to its regional
#     broker, once, and `members` lists gw-n1 online with the state it
#     published regionally (retained, carried up);
#   - with the national broker stopped, the next batch waits in the
#     regional broker's bridge session and arrives after the restart;
#   - the bridge identity may write only its own region's topics: a
#     publication as bridge:north to tg/v1/south/... is not delivered.
set -uo pipefail
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib.sh"
build=$top/${BUILD:-build}
soc=$build/tg-soc hub=$build/tg-hub
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
for t in "$MOSQUITTO" mosquitto_pub mosquitto_sub zstd; do
	command -v "$t" >/dev/null || [ -x "$t" ] || { echo "skipped: no $t (tools/install-deps)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skipped: needs root (Mosquitto runs as its own user)"; exit 77; }
replay_setup
nat_pid= reg_pid= col_pid=
on_fail() {
	show_log "$work/national.log" 20
	show_log "$work/north.log" 20
	show_log "$work/collect.log" 20
}
on_exit() { stop_pids 3 $col_pid $reg_pid $nat_pid; }

np=$(free_port)
rp=$(free_port)
while [ "$rp" = "$np" ]; do rp=$(free_port); done
run 0 "$hub" provision --out nat --region national --broker-host 127.0.0.1 --port "$np" --bridges north
has out "CN bridge:north: new"
run 0 "$hub" provision --out north --region north --broker-host 127.0.0.1 --port "$rp" --gateways gw-n1 \
	--national "127.0.0.1:$np" --bridge-files nat/bridges/north
has north/broker/mosquitto.conf "address 127.0.0.1:$np"
has north/broker/mosquitto.conf "topic gw/+/alert out 1 tg/v1/north/ tg/v1/north/"
has nat/broker/acl "topic write tg/v1/north/gw/+/alert"
has nat/broker/acl "topic read tg/v1/+/gw/+/summary"
# A rerun that only adds a gateway keeps the bridge.
run 0 "$hub" provision --out north --region north --broker-host 127.0.0.1 --gateways gw-n2
has out "--national 127.0.0.1:$np, as north/broker/mosquitto.conf says"
has north/broker/mosquitto.conf "connection tg-national-north"
echo "ok: provision writes the bridge (north) and its acl (national); a rerun keeps it"

chown -R mosquitto: nat/broker north/broker
chmod 711 "$work" nat north
national_start() {
	"$MOSQUITTO" -c nat/broker/mosquitto.conf >>national.log 2>&1 &
	nat_pid=$!
	wait_for 10 listening "$np" || fail "the national broker does not listen"
}
national_start
"$MOSQUITTO" -c north/broker/mosquitto.conf >north.log 2>&1 &
reg_pid=$!
wait_for 10 listening "$rp" || fail "the regional broker does not listen"
wait_log north.log 'Connecting bridge.*tg-national-north' 10 || fail "the bridge did not start"

"$soc" collect --broker "127.0.0.1:$np" --cert nat/soc/soc.crt --key nat/soc/soc.key --ca nat/soc/ca.crt \
	--region + --client-id soc:national:collect --db "sqlite:$work/national.db" >collect.log 2>&1 &
col_pid=$!
wait_log collect.log 'collect: region' 10 || fail "collect did not start"

# gw-n1's records: real ones (a replay), sent as the gateway sends them: one zstd frame of
# JSON lines per message, to its regional broker, with its own certificate.
"$build/townguard" replay "$pcaps/signal.pcap" --reports -o gateway.data_dir=data -o gateway.id=gw-n1 \
	-o gateway.region=north -o report.interval=10 >records.jsonl 2>/dev/null || fail "replay"
GW=(-h 127.0.0.1 -p "$rp" --cafile north/gateways/gw-n1/ca.crt --cert north/gateways/gw-n1/gw.crt
	--key north/gateways/gw-n1/gw.key -q 1)
publish() { # KIND FILE: one batch
	zstd -q -c "$2" >"$2.zst" && mosquitto_pub "${GW[@]}" -t "tg/v1/north/gw/gw-n1/$1" -f "$2.zst" ||
		fail "gw-n1 cannot publish to $1"
}
grep '"kind":"metric"' records.jsonl >summaries.jsonl
grep '"kind":"alert"' records.jsonl >alerts.jsonl
n_sum=$(wc -l <summaries.jsonl) n_alert=$(wc -l <alerts.jsonl)
[ "$n_sum" -ge 2 ] && [ "$n_alert" -ge 1 ] || fail "the replay made $n_sum summaries, $n_alert alerts"
mosquitto_pub "${GW[@]}" -r -t tg/v1/north/gw/gw-n1/state \
	-m '{"online":true,"gateway":"gw-n1","region":"north","firmware":"0.1.0","mode":"bridge","bundle":null,"last_refusal":null,"waiting_for_full":false,"uptime_s":5,"time":1795491234}' ||
	fail "gw-n1 cannot publish its state"
head -n 1 summaries.jsonl >s1.jsonl
publish summary s1.jsonl
publish alert alerts.jsonl
count() { [ "$(sqlite3 "$work/national.db" "SELECT count(*) FROM records WHERE gateway = 'gw-n1'" 2>/dev/null)" = "$1" ]; }
wait_for 15 count $((1 + n_alert)) || fail "the national store has $(sqlite3 national.db 'SELECT count(*) FROM records') records, want $((1 + n_alert))"
member() {
	"$soc" members --db "sqlite:$work/national.db" --json >members.json 2>/dev/null &&
		jq -e '[.[] | select(.gateway == "gw-n1" and .online == true)] | length == 1' members.json >/dev/null
}
wait_for 10 member || fail "members on the national store: $(cat members.json)"
echo "ok: the national tg-soc stores gw-n1's $((1 + n_alert)) records from region north and lists it online"

# The national broker down: the next batch waits in the bridge's session.
stop_pids 5 "$nat_pid"
nat_pid=
tail -n +2 summaries.jsonl >s2.jsonl
publish summary s2.jsonl
sleep 1
national_start
wait_for 30 count $((n_sum + n_alert)) ||
	fail "after the national broker's restart: $(sqlite3 national.db "SELECT count(*) FROM records") records, want $((n_sum + n_alert))"
dups=$(sqlite3 national.db "SELECT count(*) - count(DISTINCT seq) FROM records WHERE gateway = 'gw-n1'")
expect "records doubled" 0 "$dups"
echo "ok: a batch sent while the national broker was down arrives after its restart, once"

# The bridge identity writes its own region only.
BR=(-h 127.0.0.1 -p "$np" --cafile nat/bridges/north/ca.crt --cert nat/bridges/north/bridge.crt
	--key nat/bridges/north/bridge.key -q 1)
timeout 5 mosquitto_sub -h 127.0.0.1 -p "$np" --cafile nat/soc/ca.crt --cert nat/soc/soc.crt --key nat/soc/soc.key \
	-t 'tg/v1/+/gw/+/alert' -C 1 -W 3 -i probe-sub >south.out 2>/dev/null &
sub=$!
sleep 0.5
mosquitto_pub "${BR[@]}" -i probe-pub -t tg/v1/south/gw/gw-s1/alert -m x 2>/dev/null
wait "$sub"
[ -s south.out ] && fail "bridge:north wrote into region south: $(cat south.out)"
echo "ok: the bridge identity cannot write another region's topics"
echo PASS
