#!/usr/bin/env bash
# Golden output: the demo capture (generated deterministically by tg-pcapgen)
# replayed through the pipeline must give exactly the flows in
# tests/golden/demo.flows: endpoints, counters, protocol, host, JA3, TLS
# version, risks. A change here is a change of behaviour: update the golden
# file only on purpose (GOLDEN_UPDATE=1 rewrites it).
set -euo pipefail
top=${TOP:-.}
. "$top/tests/lib.sh"
build=$top/${BUILD:-build}
golden=$top/tests/golden/demo.flows
make_work
"$build/tg-pcapgen" demo "$work/demo.pcap" >/dev/null
"$build/townguard" replay "$work/demo.pcap" --flows --quiet >"$work/flows.json" 2>"$work/totals"
/usr/bin/python3 - "$work/flows.json" >"$work/flows.txt" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    f = json.loads(line)
    print(f'{f["l4"]} {f["src"]}:{f["sport"]} -> {f["dst"]}:{f["dport"]} vlan={f["vlan"]} '
          f'pkts={f["c2s_packets"]}/{f["s2c_packets"]} bytes={f["bytes"]} proto={f["proto"]} '
          f'cat={f["category"]} host={f["host"]} tls={f["tls"]} ja3c={f["ja3c"]} ja3s={f["ja3s"]} '
          f'risks={",".join(f["risks"]) or "-"} guessed={f["guessed"]}')
PY
if [ "${GOLDEN_UPDATE:-0}" = 1 ]; then
	cp "$work/flows.txt" "$golden"
	echo "rewrote $golden"
fi
diff -u "$golden" "$work/flows.txt"
grep -q '^frames *61 ' "$work/totals"
grep -q '^flows *10 ' "$work/totals"
echo "demo capture: 10 flows as in $golden"
