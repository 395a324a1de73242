#!/usr/bin/env bash
# The loop back to the hub, in the lab, all in one run (docs/tg-soc.md
# "Indicators"): what two members see becomes a protection for a third.
#
#   LAN ns              gateway ns                                         WAN ns
#   client ── tg-lan ─ townguard gw-lab (bridge, serial 1: no rule for  ─ tg-wan ══ dnsmasq, SNTP,
#   curl                allowed.test)                                       Mosquitto, tg-soc collect
#                       townguard gw-a, gw-b (monitor on tg-wan, serial 1      (SQLite)
#                       with allowed.test as an alert-only rule 201)
#
#   1. the client fetches https://allowed.test/ through gw-lab: gw-a and gw-b
#      each send a first-hit alert (rule 201, alert only); gw-lab, whose list
#      has no such rule, sends none;
#   2. `tg-soc indicators --db ... --min-members 2 --review` (confirmed with
#      "y") writes a STIX bundle with allowed.test seen at 2 members;
#   3. `tg-hub build` makes serial 2 from the region's feeds and that bundle,
#      `tg-hub publish` sends it; gw-lab takes it and now blocks
#      allowed.test: the client's fetch fails, and gw-lab's own first-hit
#      alert (rule 900, block) reaches the store;
#   4. the store's records also come out of `tg-soc export --format eve` and
#      `tg-soc report --html`.
set -uo pipefail
MODE=bridge
LAB_PREFIX=tgE
HUB_GATEWAYS=gw-lab,gw-a,gw-b
. "${TOP:-.}/tests/lab/inline_checks.sh"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
for t in "$MOSQUITTO" sqlite3 jq; do
	command -v "$t" >/dev/null || [ -x "$t" ] || { echo "skipped: no $t (tools/install-deps)"; exit 77; }
done
soc=$top/${BUILD:-build}/tg-soc
[ -x "$soc" ] || fail "$soc not built"

inline_setup
hub_lab_up
printf '%s\n' '[report]' 'interval = 2' 'drain_bps = 65536' >>"$work/gw.ini"
# gw-a and gw-b: monitor mode on tg-wan, each its own flash and keys, and a list
# of serial 1 in which allowed.test is an alert-only rule.
echo allowed.test >"$work/watch.txt"
"$hub" build --key "$work/hub/hub.key" --region lab --serial 1 --out "$work/watch.bundle" \
	domains:"$work/watch.txt",rule=201,action=alert >/dev/null || fail "tg-hub build (watch list)"
for g in gw-a gw-b; do
	mkdir -p "$work/data-$g/keys"
	cp "$work/data/keys/hub.pub" "$pki/ca.crt" "$pki/gateways/$g/gw.key" "$pki/gateways/$g/gw.crt" \
		"$work/data-$g/keys/"
	sed -e "s/^id = gw-lab/id = $g/" -e "s|^data_dir = .*|data_dir = $work/data-$g|" \
		-e 's/^mode = bridge/mode = monitor/' -e 's/^\[ports\]/[capture]\ninterface = tg-wan\n[ports]/' \
		-e 's/^\[mgmt\]/[mgmt]\nport = tg-wan/' "$work/gw.ini" | grep -v '^lan = \|^wan = ' >"$work/$g.ini"
	"$tg" bundle install "$work/watch.bundle" -c "$work/$g.ini" | grep -q '^accepted' ||
		fail "bundle install ($g)"
done
db=$work/soc.db
mon_pids=() soc_pid=
on_fail() {
	show_log "$work/tg.log" 20
	show_log "$work/gw-a.log" 15
	show_log "$work/gw-b.log" 15
	show_log "$work/soc.log" 20
}
stop_all() {
	local p
	for p in $soc_pid "${mon_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	inline_cleanup
}
trap 'stop_all' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

ip netns exec "$NS_WAN" "$soc" collect --broker "$DNS_IP:8883" --ca "$pki/soc/ca.crt" \
	--cert "$pki/soc/soc.crt" --key "$pki/soc/soc.key" --region $R --db "sqlite:$db" \
	--keepalive 5 >"$work/soc.log" 2>&1 &
soc_pid=$!
must_log "$work/soc.log" 'connected as soc:lab' 10
inline_start
for g in gw-a gw-b; do
	ip netns exec "$NS_GW" "$tg" run -c "$work/$g.ini" >/dev/null 2>"$work/$g.log" &
	mon_pids+=($!)
done
for l in tg gw-a gw-b; do must_log "$work/$l.log" 'uplink\] info: connected to' 20; done
echo "ok: gw-lab (bridge), gw-a and gw-b (monitor) connected to the region's broker"

# ---------------------------------------------------------------- 1. two members see it
fetch() {
	lan curl -sS -o /dev/null --max-time 5 --cacert "$CA" --resolve "allowed.test:443:$ALLOWED_IP" \
		https://allowed.test/
}
fetch || fail "https://allowed.test/ through gw-lab at serial 1"
hits() { # GATEWAY RULE: first hits of RULE from GATEWAY in the store
	sqlite3 "$db" "SELECT count(*) FROM records WHERE gateway = '$1' AND action = 'first_hit' AND rule = '$2'" 2>/dev/null
}
seen() { [ "$(hits gw-a 201)" -ge 1 ] && [ "$(hits gw-b 201)" -ge 1 ]; }
wait_for 20 seen || fail "first hits of rule 201 in the store: gw-a $(hits gw-a 201), gw-b $(hits gw-b 201)"
lab_alerts=$(sqlite3 "$db" "SELECT count(*) FROM records WHERE gateway = 'gw-lab' AND action = 'first_hit' AND body LIKE '%allowed.test%'")
expect "gw-lab's alerts for allowed.test before the loop" 0 "$lab_alerts"

# ---------------------------------------------------------------- 2. the indicators, reviewed
echo y | "$soc" indicators --db "sqlite:$db" --since 1h --min-members 2 --review --out "$work/feed.json" \
	>"$work/ind.txt" 2>&1 || fail "indicators: $(cat "$work/ind.txt")"
cat "$work/ind.txt"
jq -e '[.objects[] | select(.pattern == "[domain-name:value = '\''allowed.test'\'']" and .x_tg_members == 2
	and (.x_tg_gateways | sort) == ["gw-a", "gw-b"])] | length == 1' "$work/feed.json" >/dev/null ||
	fail "allowed.test is not in the STIX bundle at 2 members: $(cat "$work/feed.json")"
echo "ok: allowed.test, flagged at gw-a and gw-b, in the reviewed STIX bundle"

# ---------------------------------------------------------------- 3. built, published, enforced
"$hub" build --key "$work/hub/hub.key" --region lab --serial 2 --out "$work/lab2.bundle" --strict \
	domains:"$work/sni.txt",rule=101 domains:"$work/host.txt",rule=102 \
	domains:"$work/bound.txt",rule=103 cidr:"$work/addr.txt",rule=104 \
	stix:"$work/feed.json",rule=900 >"$work/build.log" 2>&1 || fail "tg-hub build: $(cat "$work/build.log")"
grep -q 'stix:.*rule 900, block, 1 entries' "$work/build.log" || fail "the build: $(cat "$work/build.log")"
ip netns exec "$NS_WAN" "$hub" publish "${HUB[@]}" --sign-key "$work/hub/hub.key" "$work/lab2.bundle" \
	>"$work/publish.log" 2>&1 || fail "publish: $(cat "$work/publish.log")"
must_log "$work/tg.log" 'from the hub in force: serial 2' 15
fetch 2>/dev/null && fail "allowed.test still reachable through gw-lab at serial 2"
wait_for 15 eval '[ "$(hits gw-lab 900)" -ge 1 ]' || fail "no first hit of rule 900 from gw-lab in the store"
echo "ok: serial 2 published; gw-lab, which never flagged allowed.test, now blocks it (rule 900)"

# ---------------------------------------------------------------- 4. the store's way out
out_of() { "$@" >"$work/out" 2>"$work/err" || fail "$*: $(cat "$work/err")"; }
out_of "$soc" export --db "sqlite:$db" --format eve --since 1h
jq -e -s '[.[] | select(.alert.signature_id == 900 and .alert.action == "blocked" and .host == "gw-lab")] | length >= 1' \
	"$work/out" >/dev/null || fail "export --format eve from the store lacks gw-lab's block"
out_of "$soc" report --db "sqlite:$db" --since 1h --html "$work/report.html"
grep -q '3 members' "$work/out" || fail "report: $(cat "$work/out")"
echo "ok: the store's alerts come out as EVE and in the page"
echo PASS
