#!/usr/bin/env bash
# tg-soc export, against what a SOC runs (docs/tg-soc.md "Exports"). The
# records are real: two gateways' (`townguard replay --reports` of a shared
# capture, with a bundle whose rules hit, one gateway with raw addresses, one
# with Crypto-PAn), read as JSON lines.
#
#   - ECS NDJSON: every line is a record as it came, and every field outside
#     tg.* is an ECS 8.11 field whose value has the type ECS gives it (ip,
#     date, long, float, keyword); the check refuses a record with a
#     pseudonym in source.ip (it can fail). A file rotated at 1 MiB keeps
#     whole lines, FILE.1 and FILE.2, nothing beyond --keep;
#   - Suricata EVE: jq reads every first hit into the fields Suricata's EVE
#     format documents (timestamp, event_type, src_ip, src_port, dest_ip,
#     dest_port, proto, alert.action/gid/signature_id/rev/signature/category/severity);
#   - syslog: a real rsyslog (imtcp on a free loopback port, omfile) receives
#     every alert intact: HOSTNAME, APP-NAME, MSGID and the structured data
#     parsed back by rsyslog itself, MSG equal to the record. rsyslog is
#     stopped half way through a stream and started again: every alert still
#     arrives (the exporter reconnects and sends again what rsyslog's TCP
#     had not acknowledged);
#   - live, `tg-soc collect --export syslog`: gw-a's alerts published to a
#     real Mosquitto (tg-hub provision's broker, loopback) while rsyslog is
#     down are stored; rsyslog started afterwards receives them all, intact,
#     with no later record arriving and collect still running (its loop
#     gives the exporter a turn every second).
set -uo pipefail
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib.sh"
build=$top/${BUILD:-build}
soc=$build/tg-soc
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
for t in "$RSYSLOGD" "$MOSQUITTO" mosquitto_pub zstd jq; do
	command -v "$t" >/dev/null || [ -x "$t" ] || { echo "skipped: no $t (tools/install-deps)"; exit 77; }
done
[ -x "$soc" ] || fail "$soc not built"
replay_setup
rs_pid= mq_pid= col_pid=
on_fail() {
	show_log "$work/export.err" 20
	show_log "$work/rsyslog.out"
	show_log "$work/collect.log" 20
	show_log "$work/broker.log" 10
}
on_exit() { stop_pids 3 $col_pid $mq_pid $rs_pid; }

# ---------------------------------------------------------------- the records
printf '0.0.0.0 textsecure-service.whispersystems.org\n' >hosts.txt
printf 'itunes.apple.com\n' >alert.txt
"$build/tg-hub" build --key keys/hub.key --region north --serial 5 --out hits.bundle --strict \
	hosts:hosts.txt,exact,rule=3001 domains:alert.txt,rule=3002,action=alert >/dev/null || fail "tg-hub build"
for gw in gw-a:raw gw-b:cryptopan; do
	"$build/townguard" replay "$pcaps/signal.pcap" --reports --bundle hits.bundle -o bundle.hub_key=keys/hub.pub \
		-o gateway.data_dir="data-${gw%%:*}" -o gateway.id="${gw%%:*}" -o gateway.region=north \
		-o report.interval=10 -o report.internal_addresses="${gw#*:}" >>records.jsonl 2>/dev/null ||
		fail "replay for ${gw%%:*}"
done
grep '"kind":"alert"' records.jsonl >alerts.jsonl
n_rec=$(wc -l <records.jsonl) n_alerts=$(wc -l <alerts.jsonl)
n_hits=$(grep -c '"action":"first_hit"' alerts.jsonl)
[ "$n_alerts" -ge 6 ] && [ "$n_hits" -ge 4 ] || fail "the replays made $n_alerts alerts, $n_hits first hits"
echo "ok: $n_rec records of two gateways, $n_alerts alerts, $n_hits first hits"

# ---------------------------------------------------------------- ECS NDJSON
run 0 "$soc" export --from records.jsonl --format ecs
mv out ecs.ndjson
/usr/bin/python3 - records.jsonl ecs.ndjson <<'PY' || fail "ECS field types (above)"
import datetime, ipaddress, json, sys

# ECS 8.11 field types of every field a townguard record carries outside tg.*
# (https://www.elastic.co/guide/en/ecs/8.11/ecs-field-reference.html).
ECS = {
    "@timestamp": "date", "ecs.version": "keyword", "labels.tlp": "keyword",
    "event.kind": "keyword", "event.dataset": "keyword", "event.id": "keyword",
    "event.action": "keyword", "event.category": "keyword", "event.type": "keyword",
    "event.start": "date", "event.end": "date", "event.duration": "long", "event.risk_score": "float",
    "observer.id": "keyword", "observer.name": "keyword", "observer.version": "keyword",
    "organization.id": "keyword", "network.bytes": "long", "network.packets": "long",
    "network.transport": "keyword", "rule.id": "keyword",
    "source.ip": "ip", "source.port": "long", "source.address": "keyword",
    "destination.ip": "ip", "destination.port": "long", "destination.address": "keyword",
    "host.mac": "keyword", "host.ip": "ip", "host.id": "keyword", "host.hostname": "keyword",
    "device.manufacturer": "keyword",
}

def date(v):
    datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ")

CHECK = {
    "keyword": lambda v: isinstance(v, str) or sys.exit(f"not a string: {v!r}"),
    "long": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or sys.exit(f"not an integer: {v!r}"),
    "float": lambda v: isinstance(v, (int, float)) or sys.exit(f"not a number: {v!r}"),
    "ip": lambda v: ipaddress.ip_address(v),
    "date": date,
}

def walk(o, path=""):
    for k, v in o.items():
        p = path + k
        if p == "tg":
            continue
        if isinstance(v, dict):
            yield from walk(v, p + ".")
        else:
            yield p, v

def check(rec):
    for p, v in walk(rec):
        t = ECS.get(p)
        if t is None:
            raise ValueError(f"{p}: not an ECS field townguard documents")
        for x in v if isinstance(v, list) else [v]:
            try:
                CHECK[t](x)
            except (ValueError, SystemExit) as e:
                raise ValueError(f"{p} = {x!r}: not an ECS {t} ({e})")

src = [json.loads(l) for l in open(sys.argv[1])]
out = [json.loads(l) for l in open(sys.argv[2])]
if out != src:
    sys.exit(f"FAIL: the NDJSON is not the records as they came ({len(out)} lines, {len(src)} records)")
for i, r in enumerate(out):
    try:
        check(r)
    except ValueError as e:
        sys.exit(f"FAIL: line {i + 1}: {e}")
bad = json.loads(json.dumps(next(r for r in out if "ip" in r.get("source", {}))))
bad["source"]["ip"] = "ip-ce95c19e1060"
try:
    check(bad)
    sys.exit("FAIL: a pseudonym in source.ip passed the ECS check")
except ValueError as e:
    print(f"ok: the check refuses a pseudonym in source.ip ({e})")
print(f"ok: {len(out)} NDJSON lines are the records, every field of its ECS type")
PY

# Rotation: 1 MiB files, 2 kept, whole lines only.
for _ in $(seq 400); do cat records.jsonl; done >many.jsonl
mkdir -p rot
run 0 "$soc" export --from many.jsonl --format ecs --out rot/tg.ndjson --rotate-mb 1 --keep 2
[ -s rot/tg.ndjson ] && [ -s rot/tg.ndjson.1 ] && [ -s rot/tg.ndjson.2 ] && [ ! -e rot/tg.ndjson.3 ] ||
	fail "rotation: $(ls rot)"
for f in rot/tg.ndjson rot/tg.ndjson.1 rot/tg.ndjson.2; do
	[ "$(stat -c %s "$f")" -le 1048576 ] || fail "$f passed 1 MiB: $(stat -c %s "$f")"
	jq -ec . "$f" >/dev/null || fail "$f: not whole JSON lines"
done
tail -n 1 many.jsonl | cmp -s - <(tail -n 1 rot/tg.ndjson) || fail "the newest file does not end with the last record"
echo "ok: rotated at 1 MiB, whole lines, tg.ndjson .1 .2 kept, no .3"

# ---------------------------------------------------------------- Suricata EVE
run 0 "$soc" export --from records.jsonl --format eve
mv out eve.json
[ "$(wc -l <eve.json)" = "$n_alerts" ] || fail "EVE: $(wc -l <eve.json) lines for $n_alerts alerts"
# Suricata's documented alert fields, with their types, for every first hit (townguard's
# own types have no flow: no addresses for link or spool alerts).
jq -e -s --argjson n "$n_hits" '
	[.[] | select(.alert.gid == 1)] as $hits
	| ($hits | length) == $n
	and all(.[]; .event_type == "alert"
		and (.timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}\\+0000$"))
		and (.alert.action == "allowed" or .alert.action == "blocked")
		and (.alert.signature_id | type) == "number" and (.alert.gid | type) == "number"
		and (.alert.rev | type) == "number" and (.alert.signature | type) == "string"
		and (.alert.category | type) == "string" and ([.alert.severity] | inside([1, 2, 3])))
	and all($hits[]; (.dest_ip | type) == "string" and (.dest_port | type) == "number"
		and (.src_port | type) == "number" and (.proto == "TCP" or .proto == "UDP"))
	and ([$hits[] | select(.host == "gw-a") | .src_ip | type] | all(. == "string"))
	and ([$hits[] | select(.alert.signature_id == 3001) | .alert.action] | all(. == "blocked"))
	and ([$hits[] | select(.alert.signature_id == 3002) | .alert.action] | all(. == "allowed"))
' eve.json >/dev/null || fail "EVE alerts lack Suricata's fields: $(head -n 3 eve.json)"
echo "ok: $n_alerts EVE alerts, $n_hits first hits with Suricata's fields (jq)"

# ---------------------------------------------------------------- syslog to rsyslog
port=$(free_port)
mkdir -p rs
cat >rs/rsyslog.conf <<-EOF
	global(workDirectory="$work/rs")
	module(load="imtcp")
	input(type="imtcp" port="$port" address="127.0.0.1" ruleset="tg")
	template(name="tg" type="string" string="%hostname% %app-name% %msgid% %pri% %timereported:::date-rfc3339% %structured-data% %msg%\n")
	ruleset(name="tg") { action(type="omfile" file="$work/rs/alerts.log" template="tg") }
EOF
rsyslog_start() {
	"$RSYSLOGD" -n -f "$work/rs/rsyslog.conf" -i "$work/rs/rsyslog.pid" >>"$work/rsyslog.out" 2>&1 3>&- &
	rs_pid=$!
	wait_for 10 listening "$port" || fail "rsyslog does not listen on $port"
}
rsyslog_start
mkfifo in.fifo
"$soc" export --from - --format syslog --syslog "127.0.0.1:$port" --wait 30 <in.fifo 2>export.err &
exp_pid=$!
started "$exp_pid"
exec 3>in.fifo
half=$((n_alerts / 2))
head -n "$half" alerts.jsonl >&3
lines() { [ "$(cat "$work/rs/alerts.log" 2>/dev/null | wc -l)" -ge "$1" ]; }
wait_for 10 lines "$half" || fail "rsyslog has not got the first $half alerts"
stop_pids 5 "$rs_pid"
rs_pid=
tail -n +"$((half + 1))" alerts.jsonl >&3
sleep 1.5
rsyslog_start
exec 3>&-
wait "$exp_pid" || fail "export failed: $(tail -n 3 export.err)"
grep -q "export: $n_alerts records out, 0 of other kinds skipped, 0 refused, 0 lost" export.err ||
	fail "export counted losses: $(tail -n 1 export.err)"
grep -q 'the collector closed the connection\|cannot connect' export.err ||
	fail "the exporter did not notice rsyslog's restart"
/usr/bin/python3 - alerts.jsonl rs/alerts.log <<'PY' || fail "rsyslog did not receive every alert intact (above)"
import json, re, sys
want = {json.loads(l)["event"]["id"]: json.loads(l) for l in open(sys.argv[1])}
got = {}
for line in open(sys.argv[2]):
    m = re.match(r'(\S+) (\S+) (\S+) (\d+) (\S+) (\[tg@32473 [^\]]*\]) (.*)$', line.rstrip("\n"))
    if not m:
        sys.exit(f"FAIL: rsyslog line not as sent: {line[:200]}")
    host, app, msgid, pri, ts, sd, msg = m.groups()
    rec = json.loads(msg)
    eid = rec["event"]["id"]
    if rec != want.get(eid):
        sys.exit(f"FAIL: MSG is not the record {eid}")
    exp = (rec["observer"]["id"], "townguard", rec["tg"]["alert"]["type"])
    if (host, app, msgid) != exp:
        sys.exit(f"FAIL: HOSTNAME APP-NAME MSGID {(host, app, msgid)}, want {exp}")
    if int(pri) // 8 != 4 or not ts.startswith(rec["@timestamp"][:19]):
        sys.exit(f"FAIL: PRI {pri} / TIMESTAMP {ts} for {rec['@timestamp']}")
    if f'seq="{rec["tg"]["seq"]}"' not in sd or f'id="{eid}"' not in sd:
        sys.exit(f"FAIL: structured data {sd}")
    got[eid] = got.get(eid, 0) + 1
missing = set(want) - set(got)
if missing:
    sys.exit(f"FAIL: {len(missing)} of {len(want)} alerts never reached rsyslog: {sorted(missing)[:3]}")
print(f"ok: rsyslog received all {len(want)} alerts intact across its restart "
      f"({sum(got.values()) - len(got)} sent twice)")
PY

# ---------------------------------------------------------------- live: collect --export syslog
stop_pids 5 "$rs_pid"
rs_pid=
mv rs/alerts.log rs/export.log
bport=$(free_port)
while [ "$bport" = "$port" ]; do bport=$(free_port); done
run 0 "$build/tg-hub" provision --out pki --region north --broker-host 127.0.0.1 --port "$bport" --gateways gw-a
if [ "$(id -u)" = 0 ]; then # Mosquitto drops to its own user after reading its configuration
	chown -R mosquitto: pki/broker
	chmod 711 "$work" pki
fi
"$MOSQUITTO" -c pki/broker/mosquitto.conf >broker.log 2>&1 &
mq_pid=$!
wait_for 10 listening "$bport" || fail "mosquitto does not listen on $bport"
"$soc" collect --broker "127.0.0.1:$bport" --cert pki/soc/soc.crt --key pki/soc/soc.key --ca pki/soc/ca.crt \
	--region north --db "sqlite:$work/live.db" --export syslog --export-to "127.0.0.1:$port" >collect.log 2>&1 &
col_pid=$!
wait_log collect.log 'connected as soc:north:collect' 10 || fail "collect did not connect"
jq -c 'select(.observer.id == "gw-a")' alerts.jsonl >live.jsonl
n_live=$(wc -l <live.jsonl)
zstd -q -c live.jsonl >live.zst
mosquitto_pub -h 127.0.0.1 -p "$bport" --cafile pki/gateways/gw-a/ca.crt --cert pki/gateways/gw-a/gw.crt \
	--key pki/gateways/gw-a/gw.key -q 1 -t tg/v1/north/gw/gw-a/alert -f live.zst || fail "gw-a cannot publish"
wait_log collect.log "gw-a/alert: $n_live records: $n_live stored" 10 || fail "collect did not store gw-a's $n_live alerts"
must_log collect.log 'syslog 127.0.0.1:'"$port"': cannot connect' 5
# rsyslog comes up after the last record; nothing more is published from here on.
sleep 2
rsyslog_start
# the exporter's backoff has grown to 4-8 s by now: its next try is due within that
wait_for 30 lines "$n_live" || fail "rsyslog got $(cat rs/alerts.log 2>/dev/null | wc -l) of the $n_live alerts collect stored while it was down"
alive "$col_pid" || fail "collect is gone"
/usr/bin/python3 - live.jsonl rs/alerts.log <<'PY' || fail "the live export's alerts are not the records (above)"
import json, re, sys
want = {json.loads(l)["event"]["id"]: json.loads(l) for l in open(sys.argv[1])}
got = set()
for line in open(sys.argv[2]):
    m = re.match(r'(\S+) townguard (\S+) \d+ \S+ \[tg@32473 [^\]]*\] (.*)$', line.rstrip("\n"))
    if not m or json.loads(m.group(3)) != want.get(json.loads(m.group(3))["event"]["id"]):
        sys.exit(f"FAIL: not a record collect stored: {line[:200]}")
    got.add(json.loads(m.group(3))["event"]["id"])
if got != set(want):
    sys.exit(f"FAIL: {len(set(want) - got)} of {len(want)} never arrived")
print(f"ok: live export: the {len(want)} alerts stored while rsyslog was down reached it "
      "once it was up, no later record arriving, collect still running")
PY
kill -TERM "$col_pid"
wait "$col_pid" || fail "collect: exit $? on SIGTERM"
col_pid=
grep -q 'collect: stopping: ' collect.log || fail "collect: no clean stop"
echo PASS
