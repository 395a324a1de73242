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
#     however many flows hit it; every alert type of test_alert passes its schema;
#   - the DHCP of real clients and servers in the captures (an iMac, Windows and a
#     server's ACKs, dhcpcd on a Pi, a switch), as tcpdump reads it: one new_device
#     alert per client MAC, asset records with its last host name, the addresses its
#     ACKs leased and the maker the IEEE's oui.csv names; at the default privacy level
#     no MAC or host name of them in any record; every record of test_inventory passes
#     its schema;
#   - risk alerts are exactly the (responder, risks) of --flows whose nDPI 4.2 score
#     (the severities' sum) is at least [report] risk_score (the default 250, and 100),
#     with that score and the count of those flows; risk_score = 0 gives none.
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
        if r["event"]["kind"] != "metric":
            continue
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
hosts = [h["ip"] for r in recs if r["event"]["kind"] == "metric" for h in r["tg"]["summary"]["hosts"]["top"]]
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
alerts = [r for r in recs if r["event"]["kind"] == "alert" and r["event"]["action"] == "first_hit"]
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

# ---------------------------------------------------------------- inventory
rm -f unit-inventory.jsonl
TG_RECORDS_OUT=$work/unit-inventory.jsonl "$build/tests/test_inventory" >test_inventory.log 2>&1 ||
	{ cat test_inventory.log; fail "test_inventory"; }
"$top/tests/report_schema.py" unit-inventory.jsonl >schema-inv.log || { cat schema-inv.log; fail "inventory records outside the schema"; }
echo "ok: inventory records of test_inventory: $(tail -n 1 schema-inv.log)"
[ -f "$build/oui.bin" ] || fail "no $build/oui.bin (make builds it from Debian's ieee-data)"
for c in iphone 1kxun teams; do
	tg replay "$pcaps/$c.pcap" --reports -o gateway.data_dir=data -o report.oui_file="$build/oui.bin" \
		-o report.macs=raw -o report.host_names=raw -o report.internal_addresses=raw \
		-o report.alert_limit=10000 >"inv-$c.raw" 2>/dev/null || fail "replay $c.pcap"
	tg replay "$pcaps/$c.pcap" --reports -o gateway.data_dir=data -o report.oui_file="$build/oui.bin" \
		>"inv-$c.rec" 2>/dev/null
	tcpdump -nvr "$pcaps/$c.pcap" 'udp port 67 or udp port 68' >"inv-$c.tcpdump" 2>/dev/null
	# who sends from which IPv4 address (packets and ARP): the devices learnt from frames
	tcpdump -tenr "$pcaps/$c.pcap" 'ip or arp or (vlan and (ip or arp))' >"inv-$c.senders" 2>/dev/null
done
tg replay "$pcaps/iphone.pcap" --reports -o gateway.data_dir=data -o report.oui_file="$build/oui.bin" >inv-again.rec 2>/dev/null
cmp -s inv-iphone.rec inv-again.rec || fail "a replay with DHCP gave two different outputs: it must not keep an inventory"
# --inventory FILE: a replay keeps its devices there, and one that starts from them finds none new.
rm -f kept.inv
tg replay "$pcaps/iphone.pcap" --reports -o gateway.data_dir=data --inventory kept.inv >inv-kept1.rec 2>/dev/null ||
	fail "replay --inventory kept.inv"
[ -s kept.inv ] || fail "replay --inventory kept.inv wrote no inventory"
tg replay "$pcaps/iphone.pcap" --reports -o gateway.data_dir=data --inventory kept.inv >inv-kept2.rec 2>/dev/null ||
	fail "replay --inventory kept.inv (again)"
n1=$(grep -c '"action":"new_device"' inv-kept1.rec || true) n2=$(grep -c '"action":"new_device"' inv-kept2.rec || true)
a2=$(grep -c '"kind":"asset"' inv-kept2.rec || true)
[ "$n1" -ge 1 ] && [ "$n2" = 0 ] && [ "$a2" = 0 ] ||
	fail "--inventory: $n1 new devices the first time, then $n2 new and $a2 asset records (want >= 1, then 0 and 0)"
tg replay "$pcaps/iphone.pcap" --inventory kept.inv >/dev/null 2>inv-noreports.err &&
	fail "replay --inventory without --reports was accepted"
grep -q "needs --reports" inv-noreports.err || fail "replay --inventory without --reports: $(cat inv-noreports.err)"
echo "ok: --inventory: $n1 devices learnt and kept, none new from them the second time"
"$top/tests/report_schema.py" inv-*.raw inv-*.rec >schema-dhcp.log || { cat schema-dhcp.log; fail "DHCP records outside the schema"; }
/usr/bin/python3 - <<'PY' || fail "inventory against tcpdump (above)"
import csv, ipaddress, json, re, sys
makers = {}
for row in csv.reader(open("/usr/share/ieee-data/oui.csv", encoding="utf-8")):
    makers.setdefault(row[1], row[2])
ecs = lambda mac: mac.upper().replace(":", "-")
total = static = 0
for cap in ("iphone", "1kxun", "teams"):
    # tcpdump -v: one block per message
    clients, names, leases = set(), {}, {}
    for block in re.split(r"\n(?=\S)", open(f"inv-{cap}.tcpdump").read()):
        m = re.search(r"Client-Ethernet-Address ([0-9a-f:]{17})", block)
        t = re.search(r"DHCP-Message \(53\), length 1: (\w+)", block)
        if not m or not t:
            continue
        mac, kind = ecs(m.group(1)), t.group(1)
        if "Request from" in block and kind in ("Discover", "Request", "Inform"):
            clients.add(mac)
            h = re.search(r'Hostname \(12\), length \d+: "([ -~]+)"', block)
            if h:
                names[mac] = h.group(1)
        elif kind == "ACK":
            clients.add(mac)
            y = re.search(r"Your-IP ([0-9.]+)", block)
            if y:
                leases.setdefault(mac, set()).add(y.group(1))
    # a device with a static address: a MAC sending from an internal IPv4 address (or ARP's sender)
    senders = set()
    for line in open(f"inv-{cap}.senders"):
        m = re.match(r"(\S+) > .*ethertype IPv4 \(0x0800\), (?:length \d+: )?(\d+\.\d+\.\d+\.\d+)", line) or \
            re.match(r"(\S+) > .*ethertype ARP .*(?:tell|Reply) (\d+\.\d+\.\d+\.\d+)", line)
        if m and ipaddress.ip_address(m.group(2)).is_private:
            senders.add(ecs(m.group(1)))
    recs = [json.loads(l) for l in open(f"inv-{cap}.raw")]
    new = [r["host"]["mac"] for r in recs if r["event"].get("action") == "new_device"]
    if len(new) != len(set(new)) or not clients <= set(new) or not set(new) <= clients | senders:
        sys.exit(f"FAIL: {cap}: new_device alerts for {sorted(new)}, tcpdump has clients {sorted(clients)}"
                 f" and senders from internal addresses {sorted(senders - clients)}")
    last = {}
    for r in recs:
        if r["event"]["kind"] == "asset":
            last[r["host"]["mac"]] = r
    if set(last) != set(new):
        sys.exit(f"FAIL: {cap}: asset records for {sorted(last)}, new devices {sorted(new)}")
    static += len(set(new) - clients)
    clients = set(new)
    for mac, r in last.items():
        if r["host"].get("hostname") != names.get(mac):
            sys.exit(f"FAIL: {cap}: {mac}: host name {r['host'].get('hostname')!r}, tcpdump {names.get(mac)!r}")
        held = {a["ip"] for a in r["tg"]["asset"]["addresses"]}
        if not leases.get(mac, set()) <= held:
            sys.exit(f"FAIL: {cap}: {mac}: addresses {held}, the ACKs leased {leases[mac]}")
        want = makers.get(mac.replace("-", "")[:6])
        got = r.get("device", {}).get("manufacturer")
        if (want is None) != (got is None) or (want and got.split()[0] not in want):
            sys.exit(f"FAIL: {cap}: {mac}: maker {got!r}, oui.csv {want!r}")
    text = open(f"inv-{cap}.rec").read()
    for secret in list(clients) + [m.replace("-", ":").lower() for m in clients] + list(names.values()):
        if secret in text:
            sys.exit(f"FAIL: {cap}: {secret!r} in a record at the default privacy level")
    total += len(clients)
print(f"ok: inventory: {total} devices of 3 captures ({static} from their frames alone), as tcpdump reads them, named, leased, made by whom oui.csv says")
PY

# ---------------------------------------------------------------- risk alerts
for c in exe_download log4j-webapp-exploit 1kxun iphone WebattackSQLinj; do
	tg replay "$pcaps/$c.pcap" --reports -o gateway.data_dir=data -o report.internal_addresses=raw \
		-o report.interval=86400 -o report.alert_limit=10000 >"risk-$c.rec" 2>/dev/null || fail "replay $c.pcap"
	tg replay "$pcaps/$c.pcap" --reports -o gateway.data_dir=data -o report.internal_addresses=raw \
		-o report.interval=86400 -o report.alert_limit=10000 -o report.risk_score=100 >"risk-$c.rec100" \
		2>/dev/null || fail "replay $c.pcap"
	tg replay "$pcaps/$c.pcap" --flows -o gateway.data_dir=data >"risk-$c.flows" 2>/dev/null
	tg replay "$pcaps/$c.pcap" --reports -o gateway.data_dir=data -o report.risk_score=0 >"risk-$c.off" 2>/dev/null
	! grep -q '"action":"risk"' "risk-$c.off" || fail "$c: risk_score = 0 still gave risk alerts"
done
"$top/tests/report_schema.py" risk-*.rec risk-*.rec100 >schema-risk.log || { cat schema-risk.log; fail "risk alerts outside the schema"; }
/usr/bin/python3 - <<'PY' || fail "risk alerts against --flows (above)"
import glob, json, sys
# nDPI 4.2's severities (ndpi_risk2severity), scored low 10, medium 50, high 100, severe 250
sev = {"XSS Attack": 250, "SQL Injection": 250, "RCE Injection": 250, "Binary Application Transfer": 250,
       "Known Protocol on Non Standard Port": 50, "Self-signed Certificate": 100,
       "Obsolete TLS Version (1.1 or older)": 100, "Weak TLS Cipher": 100, "TLS Expired Certificate": 100,
       "TLS Certificate Mismatch": 100, "HTTP Suspicious User-Agent": 100, "HTTP Numeric IP Address": 10,
       "HTTP Suspicious URL": 100, "HTTP Suspicious Header": 100, "TLS (probably) Not Carrying HTTPS": 10,
       "Suspicious DGA Domain name": 100, "Malformed Packet": 10, "SSH Obsolete Client Version/Cipher": 100,
       "SSH Obsolete Server Version/Cipher": 50, "SMB Insecure Version": 100, "TLS Suspicious ESNI Usage": 50,
       "Unsafe Protocol": 10, "Suspicious DNS Traffic": 100, "Missing SNI TLS Extension": 50,
       "HTTP Suspicious Content": 100, "Risky ASN": 50, "Risky Domain Name": 50,
       "Possibly Malicious JA3 Fingerprint": 50, "Possibly Malicious SSL Cert. SHA1 Fingerprint": 50,
       "Desktop/File Sharing Session": 10, "Uncommon TLS ALPN": 50, "TLS Certificate Validity Too Long": 50,
       "TLS Suspicious Extension": 100, "TLS Fatal Alert": 10, "Suspicious Entropy": 50,
       "Clear-Text Credentials": 100, "DNS Packet Larger Than 512 bytes": 50, "Fragmented DNS Message": 50,
       "Text Contains Non-Printable Characters": 100, "Possible Exploit Detected": 250,
       "TLS Certificate About To Expire": 50}
# One alert per (server, risks) of the flows scoring at least the threshold, counting them:
# at the default (250, the severe) and at 100 (one high risk).
n = {}
for threshold, ext in ((250, "rec"), (100, "rec100")):
    n[threshold] = 0
    for fl in sorted(glob.glob("risk-*.flows")):
        cap = fl[5:-6]
        want, clients = {}, {}
        for l in open(fl):
            f = json.loads(l)
            risks = f.get("risks") or []
            unknown = [r for r in risks if r not in sev]
            if unknown:
                sys.exit(f"FAIL: {cap}: risks {unknown} not in nDPI 4.2's table of this test")
            score = sum(sev[r] for r in risks)
            if score >= threshold:
                key = (f["dst"], frozenset(risks))
                want[key] = (score, want.get(key, (0, 0))[1] + 1)
                clients.setdefault(key, set()).add(f["src"])
        got = {}
        for l in open(f"risk-{cap}.{ext}"):
            r = json.loads(l)
            if r["event"].get("action") != "risk":
                continue
            a = r["tg"]["alert"]
            key = (r["destination"]["ip"], frozenset(a["risks"]))
            if key in got:
                sys.exit(f"FAIL: {cap} at {threshold}: {key} alerted twice in one interval")
            got[key] = (a["score"], a["count"])
            if r["event"]["risk_score"] != a["score"]:
                sys.exit(f"FAIL: {cap}: event.risk_score {r['event']['risk_score']}, tg.alert.score {a['score']}")
            if r["source"]["ip"] not in clients.get(key, ()):
                sys.exit(f"FAIL: {cap}: {key}: source {r['source']['ip']} is none of its flows' clients")
        if got != want:
            sys.exit(f"FAIL: {cap} at {threshold}: risk alerts (score, count) {sorted(got.items(), key=str)[:4]}, "
                     f"--flows says {sorted(want.items(), key=str)[:4]}")
        n[threshold] += len(got)
if n[250] < 2 or n[100] <= n[250]:
    sys.exit(f"FAIL: {n[250]} risk alerts at 250 and {n[100]} at 100 in 5 captures: the check is blind")
print(f"ok: risk alerts, one per (server, risks) of --flows scoring >= 250 ({n[250]}) and >= 100 ({n[100]}), "
      "with the score and the count of flows")
PY
echo "PASS"
