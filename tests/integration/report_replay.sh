#!/usr/bin/env bash
# The records a capture makes (townguard replay --reports, docs/reports.md),
# on every shared capture (../shared/pcaps), checked against what else knows:
#   - every record passes its JSON Schema from docs/reports.md (tests/report_schema.py)
#     and tg.seq counts 1, 2, 3... in each run;
#   - bytes per application over all of a capture's summaries equal the per-protocol
#     bytes of the replay's own totals table;
#   - at the default privacy level no internal address that --flows shows appears
#     in any record, and with internal_addresses = raw they do (the check can fail);
#   - one data directory (one key) gives the same records twice; another key other
#     pseudonyms;
#   - `townguard report reveal` takes a pseudonym back to the address --flows shows,
#     and a Crypto-PAn address back to its original; Crypto-PAn keeps /24s together;
#   - a blocked name (tg-hub build) gives one first-hit alert per rule and interval,
#     however many flows hit it; every alert type of test_alert passes its schema.
# Skips when ../shared is absent.
set -euo pipefail
pcaps=${SHARED:-$(dirname "$0")/../../../shared}/pcaps
if [ ! -d "$pcaps" ]; then
	echo "skipped: no shared captures at $pcaps"
	exit 77
fi
. "${TOP:-.}/tests/lib.sh"
top=${TOP:-.}
build=$top/${BUILD:-build}
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
	fail "python3-jsonschema is missing: run tools/install-deps"
make_work
cd "$work"
tg() { "$build/townguard" "$@"; }

# ---------------------------------------------------------------- every capture
n=0
for cap in "$pcaps"/*.pcap "$pcaps"/*.pcapng; do
	[ -f "$cap" ] || continue
	name=$(basename "$cap")
	tg replay "$cap" --reports -o gateway.data_dir=data -o report.interval=5 >"$name.rec" 2>"$name.tot" ||
		fail "$name: replay --reports failed: $(tail -n 3 "$name.tot")"
	tg replay "$cap" --flows -o gateway.data_dir=data >"$name.flows" 2>/dev/null
	tg replay "$cap" --reports -o gateway.data_dir=data -o report.interval=5 \
		-o report.internal_addresses=raw >"$name.raw" 2>/dev/null
	n=$((n + 1))
done
[ "$n" -gt 20 ] || fail "only $n captures in $pcaps"
cat ./*.rec >all.jsonl
"$top/tests/report_schema.py" all.jsonl >schema.log || { cat schema.log; fail "records outside their schema"; }
echo "ok: $(tail -n 1 schema.log)"

/usr/bin/python3 - "$n" <<'PY' || fail "records and flows disagree (above)"
import glob, ipaddress, json, re, sys

bad = 0
def problem(msg):
    global bad
    bad += 1
    print("FAIL:", msg)

def internal(a):
    ip = ipaddress.ip_address(a)
    nets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
            "127.0.0.0/8", "fc00::/7", "fe80::/10", "::1/128"]
    return any(ip in ipaddress.ip_network(n) for n in nets)

raw_hits = 0
for rec in sorted(glob.glob("*.rec")):
    cap = rec[:-4]
    recs = [json.loads(l) for l in open(rec)]
    seqs = [r["tg"]["seq"] for r in recs]
    if seqs != list(range(1, len(recs) + 1)):
        problem(f"{cap}: tg.seq {seqs[:5]}... is not 1, 2, 3...")
    # Bytes per application over the run == the totals table's bytes per protocol.
    got = {}
    for r in recs:
        for a in r["tg"]["summary"]["applications"]:
            got[a["name"]] = got.get(a["name"], 0) + a["bytes"]
    want, table = {}, False
    for line in open(cap + ".tot"):
        if line.startswith("protocol "):
            table = True
            continue
        if table:
            if not line.strip():
                break
            f = line.split()
            want[" ".join(f[:-3])] = int(f[-2])
    if got != want:
        diff = {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}
        problem(f"{cap}: bytes per application (summaries, totals) differ: {diff}")
    # No internal address of the flows in any record at the default level.
    addrs = set()
    for l in open(cap + ".flows"):
        fl = json.loads(l)
        for a in (fl["src"], fl["dst"]):
            if internal(a):
                addrs.add(a)
    text = open(rec).read()
    raw = open(cap + ".raw").read()
    for a in sorted(addrs):
        if f'"{a}"' in text:
            problem(f"{cap}: internal address {a} in a record at the default privacy level")
        if f'"{a}"' in raw:
            raw_hits += 1
if raw_hits == 0:
    problem("internal_addresses = raw showed no internal address in any capture: the check is blind")
print(f"ok: {sys.argv[1]} captures: seq, bytes per application, privacy ({raw_hits} addresses raw)")
sys.exit(1 if bad else 0)
PY

# ---------------------------------------------------------------- one key, the same records
cap=$pcaps/443-firefox.pcap
tg replay "$cap" --reports -o gateway.data_dir=data >again.rec 2>/dev/null
tg replay "$cap" --reports -o gateway.data_dir=data >again2.rec 2>/dev/null
cmp -s again.rec again2.rec || fail "one key, one capture, two different outputs"
tg replay "$cap" --reports -o gateway.data_dir=other >other.rec 2>/dev/null
p1=$(grep -o '"id":"ip-[0-9a-f]*"' again.rec | head -n 1)
p2=$(grep -o '"id":"ip-[0-9a-f]*"' other.rec | head -n 1)
[ -n "$p1" ] && [ -n "$p2" ] || fail "no address pseudonym in the records of $cap"
[ "$p1" != "$p2" ] || fail "two keys gave the same pseudonym $p1"
echo "ok: stable for one key, different for two ($p1, $p2)"

# ---------------------------------------------------------------- reveal
pseudo=${p1#\"id\":\"}
pseudo=${pseudo%\"}
run 0 tg report reveal "$pseudo" -o gateway.data_dir=data
expect "reveal $pseudo (searched)" 192.168.1.13 "$(cat out)"
grep -q '"src":"192.168.1.13"' 443-firefox.pcap.flows || fail "192.168.1.13 is not the capture's client"
run 2 tg report reveal not-a-pseudonym -o gateway.data_dir=data
has err "neither a pseudonym"
echo "ok: reveal"

# ---------------------------------------------------------------- Crypto-PAn
tg replay "$pcaps/1kxun.pcap" --reports -o gateway.data_dir=data -o report.internal_addresses=cryptopan \
	-o report.interval=86400 >pan.rec 2>/dev/null
"$top/tests/report_schema.py" pan.rec >/dev/null || fail "Crypto-PAn records outside the schema"
/usr/bin/python3 - "$build/townguard" <<'PY' || fail "Crypto-PAn (above)"
import ipaddress, json, subprocess, sys
tg = sys.argv[1]
recs = [json.loads(l) for l in open("pan.rec")]
hosts = [h["ip"] for r in recs for h in r["tg"]["summary"]["hosts"]["top"]]
orig = {}
for h in hosts:
    out = subprocess.run([tg, "report", "reveal", h, "-o", "gateway.data_dir=data"],
                         capture_output=True, text=True, check=True).stdout.strip()
    orig[h] = out
flows = open("1kxun.pcap.flows").read()
for h, o in orig.items():
    if h == o or f'"{o}"' not in flows:
        print(f"FAIL: {h} reveals {o}, which is not an address of the capture's flows")
        sys.exit(1)
pairs = 0
for a in orig:
    for b in orig:
        if a < b:
            same_orig = ipaddress.ip_address(orig[a]).packed[:3] == ipaddress.ip_address(orig[b]).packed[:3]
            same_map = ipaddress.ip_address(a).packed[:3] == ipaddress.ip_address(b).packed[:3]
            if same_orig != same_map:
                print(f"FAIL: /24 not kept: {orig[a]} -> {a}, {orig[b]} -> {b}")
                sys.exit(1)
            pairs += same_orig
if pairs == 0:
    print("FAIL: no two hosts of one /24 in 1kxun: the prefix check is blind")
    sys.exit(1)
print(f"ok: Crypto-PAn: {len(orig)} hosts revealed, {pairs} pairs of one /24 still one /24")
PY
# ---------------------------------------------------------------- first-hit alerts
# signal.pcap: ten TLS flows name textsecure-service.whispersystems.org (blocked,
# rule 3001), two itunes.apple.com (alert only, rule 3002). Each rule alerts once
# in each interval whose summary counts its hits, never more.
"$build/tg-hub" keygen --out keys >/dev/null
printf '0.0.0.0 textsecure-service.whispersystems.org\n' >hosts.txt
printf 'itunes.apple.com\n' >alert.txt
"$build/tg-hub" build --key keys/hub.key --region local --serial 5 --out hits.bundle --strict \
	hosts:hosts.txt,exact,rule=3001 domains:alert.txt,rule=3002,action=alert >/dev/null
for iv in 86400 2; do
	tg replay "$pcaps/signal.pcap" --reports --bundle hits.bundle -o bundle.hub_key=keys/hub.pub \
		-o gateway.data_dir=data -o report.interval=$iv >"hits$iv.rec" 2>/dev/null
	"$top/tests/report_schema.py" "hits$iv.rec" >/dev/null || fail "alert records outside the schema"
	/usr/bin/python3 - "hits$iv.rec" <<'PY' || fail "first-hit alerts (above)"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
alerts = [r for r in recs if r["event"]["kind"] == "alert"]
sums = [r for r in recs if r["event"]["kind"] == "metric"]
for rule, hits_min in (("3001", 10), ("3002", 2)):
    hits = sum(b["count"] for s in sums for b in s["tg"]["summary"]["blocks"] if b["rule"]["id"] == rule)
    with_hits = [s for s in sums if any(b["rule"]["id"] == rule for b in s["tg"]["summary"]["blocks"])]
    mine = [a for a in alerts if a["rule"]["id"] == rule]
    if hits < hits_min:
        sys.exit(f"FAIL: rule {rule}: {hits} hits in the summaries, the capture has {hits_min}")
    if len(mine) != len(with_hits):
        sys.exit(f"FAIL: rule {rule}: {len(mine)} first-hit alerts for {len(with_hits)} intervals with hits")
    for a in mine:
        t = a["@timestamp"]
        if not any(s["event"]["start"] <= t < s["event"]["end"] or t == s["event"]["end"] for s in with_hits):
            sys.exit(f"FAIL: rule {rule}: alert at {t} in no interval that counted the rule")
    if "ip" in a["source"]:
        sys.exit(f"FAIL: rule {rule}: the office's address in source.ip at the default level")
print(f"ok: {sys.argv[1]}: one first-hit alert per rule and interval ({len(alerts)} alerts, {len(sums)} summaries)")
PY
done

# ---------------------------------------------------------------- every alert type
rm -f unit-alerts.jsonl
TG_RECORDS_OUT=$work/unit-alerts.jsonl "$build/tests/test_alert" >test_alert.log 2>&1 ||
	{ cat test_alert.log; fail "test_alert"; }
"$top/tests/report_schema.py" unit-alerts.jsonl >schema-alerts.log || { cat schema-alerts.log; fail "alerts outside the schema"; }
echo "ok: every alert type: $(tail -n 1 schema-alerts.log)"
echo "PASS"
