#!/usr/bin/env bash
# tg-pcapgen office, the report benchmark's capture (docs/benchmarks.md part 9),
# is what it says it is:
#   - the same seed and feed give the same bytes; another seed other bytes;
#   - 200 office hosts and 3 that join later with a DHCP exchange carrying their
#     host names, over 10 minutes of capture time;
#   - the first names of the --blocked feed are looked up and connected to, and
#     a bundle of that feed gives first-hit alerts in replay --reports, whose
#     records pass their schema;
#   - nDPI names the browsing (Google, YouTube, NetFlix video ...) and DNS, NTP;
#   - a feed that cannot be read, or has no name, is refused naming the file.
set -euo pipefail
. "${TOP:-.}/tests/lib.sh"
top=${TOP:-.}
build=$top/${BUILD:-build}
gen=$build/tg-pcapgen
make_work
cd "$work"

printf '# a feed\nevil-one.test\n\nevil-two.test\nevil-three.test\nevil-four.test\nevil-five.test\n' >feed.txt
run 0 "$gen" office a.pcap --blocked feed.txt
run 0 "$gen" office b.pcap --blocked feed.txt
cmp -s a.pcap b.pcap || fail "the same seed and feed gave two different captures"
run 0 "$gen" office c.pcap --blocked feed.txt --seed 2
! cmp -s a.pcap c.pcap || fail "seeds 1 and 2 gave the same capture"
echo "ok: byte-identical for one seed, different for another"

"$build/townguard" replay a.pcap --flows >flows.jsonl 2>totals.txt || fail "replay --flows: $(tail -n 3 totals.txt)"
/usr/bin/python3 - <<'PY' || fail "the office capture (above)"
import json, sys
flows = [json.loads(l) for l in open("flows.jsonl")]
hosts = {f["src"] for f in flows if f["src"].startswith("192.168.10.") and f["src"] != "192.168.10.1"}
late = {h for h in hosts if int(h.split(".")[3]) >= 230}
first = min(f["first_ms"] for f in flows)
last = max(f["last_ms"] for f in flows)
protos = {f["proto"].split(".")[-1] for f in flows}
hostnames = {f.get("host") for f in flows}
problems = []
if len(hosts) != 203 or len(late) != 3:
    problems.append(f"{len(hosts)} office hosts ({len(late)} late), want 203 (3 late)")
if not 590e3 <= last - first <= 600e3:
    problems.append(f"capture spans {(last - first) / 1e3:.0f} s, want about 600")
for p in ("YouTube", "NetFlix", "Google", "DNS", "NTP", "DHCP", "HTTP"):
    if p not in protos:
        problems.append(f"no {p} flow (protocols: {sorted(protos)})")
for name in ("evil-one.test", "evil-two.test", "evil-three.test", "evil-four.test"):
    if name not in hostnames:
        problems.append(f"no flow names the feed's {name}")
if "evil-five.test" in hostnames:
    problems.append("the fifth name of the feed was used: only the first four are")
dhcp = [f for f in flows if f["proto"] == "DHCP"]
if len(dhcp) != 6:
    problems.append(f"{len(dhcp)} DHCP flows, want 6 (client and server side of 3 joins)")
for p in problems:
    print("FAIL:", p)
if problems:
    sys.exit(1)
print(f"ok: {len(flows)} flows from {len(hosts)} hosts over {(last - first) / 1e3:.0f} s, "
      f"{len(protos)} protocols, the feed's first 4 names")
PY
for h in DESKTOP-7QK2M4L Galaxy-A52 NPI8C1F2A; do
	tcpdump -nr a.pcap -A 'udp port 67' 2>/dev/null | grep -q "$h" || fail "no DHCP message carries host name $h"
done
echo "ok: the 3 new devices' DHCP exchanges name them"

"$build/tg-hub" keygen --out keys >/dev/null
"$build/tg-hub" build --key keys/hub.key --region local --serial 1 --out feed.tgb domains:feed.txt >/dev/null
"$build/townguard" replay a.pcap --reports --bundle feed.tgb -o bundle.hub_key=keys/hub.pub \
	-o gateway.data_dir=data >rec.jsonl 2>/dev/null || fail "replay --reports"
"$top/tests/report_schema.py" rec.jsonl >schema.log || { cat schema.log; fail "records outside their schema"; }
n_sum=$(grep -c '"kind":"metric"' rec.jsonl || true)
n_alert=$(grep -c '"dataset":"townguard.alert"' rec.jsonl || true)
[ "$n_sum" -ge 10 ] || fail "$n_sum summaries for 10 minutes"
[ "$n_alert" -ge 4 ] || fail "$n_alert alerts for hits on 4 listed names"
echo "ok: $n_sum summaries and $n_alert alerts, $(tail -n 1 schema.log)"

: >empty.txt
run 2 "$gen" office x.pcap --blocked empty.txt
has err "empty.txt"
has err "no name in it"
run 2 "$gen" office x.pcap --blocked missing.txt
has err "cannot read --blocked \`missing.txt'"
[ ! -e x.pcap ] || fail "a refused feed left a capture behind"
echo "PASS"
