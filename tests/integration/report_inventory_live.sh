#!/usr/bin/env bash
# New devices on the LAN, end to end, in the lab: townguard in bridge mode
# with reports to a real Mosquitto over mutual TLS (as report_live.sh), a
# real DHCP client (busybox udhcpc) on the LAN asking the lab's dnsmasq on
# the WAN side for a lease through the gateway.
#
#   LAN ns                         gateway ns                  WAN ns
#   eth0  02:99:00:00:00:10 ─┐
#   phone 3c:22:fb:... (macvlan)├── tg-lan ─ townguard ─ tg-wan ── dnsmasq (DHCP), Mosquitto,
#   udhcpc -x hostname:...  ─┘       (bridge)                      mosquitto_sub (the SOC)
#
#   1. udhcpc with host name reception-pc: one new_device alert whose
#      host.hostname is a pseudonym (the default) that `townguard report
#      reveal` takes back to reception-pc, then an asset record with the
#      address dnsmasq leased (a pseudonym too);
#   2. the gateway stopped and started again: <data>/inventory holds the
#      device; its next lease is no new device, while a second client (a
#      macvlan with an Apple MAC, host name visitor-phone) is one, named by
#      its maker from build/oui.bin;
#   3. a printer (a macvlan with a Brother MAC) with a static address and no
#      DHCP, pinging across: a new_device alert with its address and an
#      asset record made by Brother (its ARP and IP frames, the source MAC);
#   4. no MAC, host name or lab address in any byte the SOC received.
set -uo pipefail
MODE=bridge
LAB_PREFIX=tgI
. "${TOP:-.}/tests/lab/inline_checks.sh"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
UDHCPC=$(command -v udhcpc || echo /usr/sbin/udhcpc)
for t in "$MOSQUITTO" mosquitto_sub zstd "$UDHCPC"; do
	command -v "$t" >/dev/null || [ -x "$t" ] || { echo "skipped: no $t (tools/install-deps)"; exit 77; }
done
oui=$top/${BUILD:-build}/oui.bin
[ -f "$oui" ] || fail "no $oui (make builds it from Debian's ieee-data)"

inline_setup
hub_lab_up
printf '%s\n' '[report]' 'interval = 2' "oui_file = $oui" >>"$work/gw.ini"
sub_pid=
stop_all() {
	[ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null
	inline_cleanup
}
trap 'stop_all' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
on_fail() {
	show_log "$work/tg.log" 40
	show_log "$work/udhcpc.log" 10
	show_log "$work/records.jsonl" 10
}

ip netns exec "$NS_WAN" mosquitto_sub -h "$DNS_IP" -p 8883 --cafile "$pki/ca.crt" \
	--cert "$pki/hub/hub-client.crt" --key "$pki/hub/hub-client.key" -i soc-inventory -c -q 1 \
	-t "tg/v1/$R/gw/gw-lab/alert" -t "tg/v1/$R/gw/gw-lab/asset" -F '%t %x' >"$work/sub.out" 2>"$work/sub.err" &
sub_pid=$!
sleep 0.3

# What the SOC has: every record of the alert and asset messages (zstd frames of JSON lines).
records() {
	/usr/bin/python3 - "$work/sub.out" "$work/records.jsonl" "$work/received.txt" "$(cd "${TOP:-.}" && pwd)/firmware/report/records-v2.zdict" <<'PY'
import json, subprocess, sys
recs, text = {}, []
for line in open(sys.argv[1]):
    topic, _, payload = line.strip().partition(" ")
    if not payload:
        continue
    out = subprocess.run(["zstd", "-dcq", "-D", sys.argv[4]], input=bytes.fromhex(payload), capture_output=True, check=True).stdout
    text.append(out.decode())
    for l in out.decode().splitlines():
        r = json.loads(l)
        recs[(r["observer"]["id"], r["tg"]["seq"])] = r
with open(sys.argv[2], "w") as f:
    for k in sorted(recs):
        f.write(json.dumps(recs[k]) + "\n")
open(sys.argv[3], "w").write("".join(text))
PY
}
# new_devices: the new_device alerts received so far, one host.hostname a line
new_devices() { records && /usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["event"]["dataset"] == "townguard.alert" and r["event"]["action"] == "new_device":
        print(r["host"].get("hostname", "-"), r["host"].get("mac", "-"))' "$work/records.jsonl"; }
alerted() { [ "$(new_devices | wc -l)" -ge "$1" ]; }
asset_with_address() { records && /usr/bin/python3 -c '
import json, sys
sys.exit(not any(r["event"]["dataset"] == "townguard.asset" and r["host"].get("hostname") == sys.argv[2]
                 and r["tg"]["asset"]["addresses"] for r in map(json.loads, open(sys.argv[1]))))' \
	"$work/records.jsonl" "$1"; }
# dhcp IFACE NAME: one lease for IFACE with host name NAME (the address is not set: no script)
dhcp() {
	printf '#!/bin/sh\nexit 0\n' >"$work/udhcpc.script"
	chmod +x "$work/udhcpc.script"
	lan timeout 15 "$UDHCPC" -i "$1" -f -q -n -t 5 -T 1 -x "hostname:$2" -s "$work/udhcpc.script" \
		>>"$work/udhcpc.log" 2>&1 || fail "udhcpc on $1 got no lease"
	grep -q "lease of .* obtained" "$work/udhcpc.log" || fail "udhcpc: no lease"
}

# ---------------------------------------------------------------- 1. a new device
inline_start
wait_log "$work/tg.log" 'uplink\] info: connected to' 15
grep -q 'uplink\] info: connected to' "$work/tg.log" || fail "the gateway did not connect to the broker"
dhcp eth0 reception-pc
wait_for 15 alerted 1 || fail "no new_device alert for the DHCP client"
read -r _ mac1 < <(new_devices)
# The lab's client has a static address too (CLIENT_IP), which the lab's own
# checks used before the lease: its new_device alert may come from that, and
# its name then with the asset record of the change. (The phone below is
# DHCP's alone: its alert names it.)
named() { records && /usr/bin/python3 -c '
import json, sys
for r in map(json.loads, open(sys.argv[1])):
    if r["event"]["dataset"] == "townguard.asset" and r["host"]["mac"] == sys.argv[2] and r["host"].get("hostname"):
        print(r["host"]["hostname"])' "$work/records.jsonl" "$mac1" | tail -n 1; }
has_name() { [ -n "$(named)" ]; }
wait_for 10 has_name
name=$(named)
case $name in host-*) ;; *) fail "the new device's host name is '$name', not a pseudonym (default privacy)" ;; esac
echo reception-pc >"$work/names.txt"
revealed=$("$tg" report reveal "$name" --from "$work/names.txt" -c "$work/gw.ini" 2>"$work/reveal.err") ||
	fail "report reveal $name: $(cat "$work/reveal.err")"
expect "reveal $name" reception-pc "$revealed"
wait_for 10 asset_with_address "$name" || fail "no asset record with the leased address for $name"
echo "ok: a DHCP client is a new device, named $name (reception-pc), leased an address"

# ---------------------------------------------------------------- 2. after a restart
inline_stop
grep -q '"mac":"02:99:00:00:00:10"' "$work/data/inventory" || fail "the device is not in $work/data/inventory"
grep -q '"host_name":"reception-pc"' "$work/data/inventory" || fail "no host name in the inventory on flash"
inline_start
wait_log "$work/tg.log" 'inventory: 1 devices' 5 || fail "the inventory was not loaded at start"
lan ip link add link eth0 name phone address 3c:22:fb:12:34:56 type macvlan mode bridge || fail "macvlan"
lan ip link set phone up
dhcp eth0 reception-pc
dhcp phone visitor-phone
wait_for 15 alerted 2 || fail "no new_device alert for the second client"
sleep 2.5 # an interval: a second alert for the first device would be in by now
records
[ "$(new_devices | wc -l)" = 2 ] || fail "new_device alerts: $(new_devices | tr '\n' ';') (want reception-pc once, visitor-phone once)"
[ "$(new_devices | awk -v m="$mac1" '$2 == m' | wc -l)" = 1 ] || fail "the known device alerted again after the restart"
new_devices | awk -v m="$mac1" '$2 != m' | grep -q '^host-' || fail "the phone's new_device alert names no host: $(new_devices | tr '\n' ';')"
/usr/bin/python3 - "$work/records.jsonl" <<'PY' || fail "the second client's asset (above)"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
made = {r.get("device", {}).get("manufacturer") for r in recs if r["event"]["dataset"] == "townguard.asset"}
if "Apple, Inc." not in made:
    sys.exit(f"FAIL: no asset record made by Apple, Inc. (3c:22:fb): {made}")
PY
"$top/tests/report_schema.py" "$work/records.jsonl" >"$work/schema.log" || { cat "$work/schema.log"; fail "records outside the schema"; }
echo "ok: after a restart the known device is no new device, the new one is, made by Apple, Inc.; $(tail -n 1 "$work/schema.log")"

# ---------------------------------------------------------------- 3. a static address
# A printer (a Brother MAC) with an address of its own, no DHCP: its ARP and pings enter it.
lan ip link add link eth0 name printer address 00:1b:a9:00:00:42 type macvlan mode bridge || fail "macvlan"
lan ip addr add 10.99.0.222/24 dev printer
lan ip link set printer up
lan ping -c 2 -i 0.3 -W 1 -I printer "$DNS_IP" >/dev/null 2>&1
wait_for 10 alerted 3 || fail "no new_device alert for the printer with a static address: $(new_devices | tr '\n' ';')"
static_asset() { records && /usr/bin/python3 - "$work/records.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
new = [r for r in recs if r["event"]["dataset"] == "townguard.alert" and r["event"]["action"] == "new_device"]
assets = [r for r in recs if r["event"]["dataset"] == "townguard.asset"
          and r.get("device", {}).get("manufacturer") == "Brother industries, LTD."]
if not new[-1]["host"].get("id") or "hostname" in new[-1]["host"]:
    sys.exit(f"the printer's new_device alert has no address or has a host name: {new[-1]['host']}")
if not assets or not assets[-1]["tg"]["asset"]["addresses"] or not assets[-1]["host"].get("id"):
    sys.exit(f"no asset record of the printer with its address: {[a['host'] for a in assets]}")
if assets[-1]["host"]["mac"] != new[-1]["host"]["mac"]:
    sys.exit("the asset record is of another device than the alert")
PY
}
wait_for 5 static_asset || fail "the printer's records: $(static_asset 2>&1 | tail -n 1)"
"$top/tests/report_schema.py" "$work/records.jsonl" >"$work/schema.log" || { cat "$work/schema.log"; fail "records outside the schema"; }
echo "ok: a device with a static address and no DHCP is a new device, with its address, made by Brother; $(tail -n 1 "$work/schema.log")"

# ---------------------------------------------------------------- 4. privacy
for secret in reception-pc visitor-phone 02:99:00:00:00:10 02-99-00-00-00-10 3c:22:fb:12:34:56 3C-22-FB-12-34-56 \
	00:1b:a9:00:00:42 00-1B-A9-00-00-42 10.99.0.222 "$CLIENT_IP" 10.99.0.1[0-4][0-9]; do
	grep -qE -- "$secret" "$work/received.txt" && fail "$secret in what the SOC received"
done
inline_stop
echo "PASS"
