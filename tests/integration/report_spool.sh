#!/usr/bin/env bash
# The report spool and the wire end to end, in the lab: records go to the
# spool on flash, over lwIP MQTT with mutual TLS to a real Mosquitto (PKI and
# per-gateway ACLs from `tg-hub provision`), and a SOC subscriber with its own
# certificate checks every one (report_check.py: zstd frames of JSON lines,
# deduplicated by observer.id and tg.seq).
#
#   LAN ns            gateway ns                         WAN ns
#                     report_probe ── tg-wan ════════ eth0: dnsmasq (DHCP), SNTP,
#                     (mgmt + uplink + spool,            Mosquitto 10.99.0.1:8883,
#                      a record every 2 s)               mosquitto_sub (the SOC)
#
# report_probe (tests/lwip/report_probe.c) is the gateway's report path with
# a record source whose numbers the test knows; it prints "put SEQ" once a
# record is on flash. An outage is a black hole on the broker's side (iptables
# drops everything on the WAN's eth0), the links staying up.
#   1. a WAN outage of OUTAGE_SECONDS (60) with 2 s records: after it, every
#      record arrives exactly once by tg.seq, those of the outage marked
#      tg.replayed;
#   2. the same, with the probe killed (SIGKILL) during the outage and
#      started again before it ends: nothing lost, tg.seq only goes up;
#   3. kill -9 at random points while records are written every 20 ms, KILLS
#      (50) times: every record on flash before a kill arrives, none twice
#      after deduplication, and no record that was never put.
set -uo pipefail
MODE=bridge
LAB_PREFIX=tgQ
. "${TOP:-.}/tests/lab/inline_checks.sh"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
for t in "$MOSQUITTO" mosquitto_sub zstd iptables; do
	command -v "$t" >/dev/null || [ -x "$t" ] || { echo "skipped: no $t (tools/install-deps)"; exit 77; }
done
probe=$top/${BUILD:-build}/tests/report_probe
check=$top/tests/lab/report_check.py
[ -x "$probe" ] || fail "$probe not built"
OUTAGE=${OUTAGE_SECONDS:-60}
KILLS=${KILLS:-50}

inline_setup
hub_lab_up
printf '%s\n' '[report]' 'spool_kb = 4096' 'drain_bps = 65536' >>"$work/gw.ini"
on_fail() {
	show_log "$work/probe.log" 30
	show_log "$work/sub.err"
	show_log "$work/broker.log" 10
}

# The SOC: a persistent QoS 1 session, so nothing is missed while it stays up.
ip netns exec "$NS_WAN" mosquitto_sub -h "$DNS_IP" -p 8883 --cafile "$pki/ca.crt" \
	--cert "$pki/hub/hub-client.crt" --key "$pki/hub/hub-client.key" -i soc-test -c -q 1 \
	-t "tg/v1/$R/gw/gw-lab/#" -F '%t %x' >"$work/sub.out" 2>"$work/sub.err" &
sub_pid=$!
probe_pid=
stop_all() { [ -n "$probe_pid" ] && kill -KILL "$probe_pid" 2>/dev/null; kill "$sub_pid" 2>/dev/null; }
trap 'stop_all; [ -n "${KEEP:-}" ] || inline_cleanup' EXIT

# probe EVERY_MS: started in the gateway namespace, "put" lines appended to $work/puts.
probe() {
	ip netns exec "$NS_GW" "$probe" -c "$work/gw.ini" --iface tg-wan --every "$1" \
		>>"$work/puts" 2>>"$work/probe.log" &
	probe_pid=$!
}
kill9() { kill -KILL "$probe_pid" 2>/dev/null; wait "$probe_pid" 2>/dev/null; probe_pid=; }
all_arrived() { "$check" "$work/sub.out" "$work/puts" "$@" >"$work/check.out" 2>&1; }
# wait_all SECONDS ARGS...: until every record put has arrived (report_check.py ARGS).
# (A check decompresses every message so far: once a second, by the clock.)
wait_all() {
	local end=$(($(date +%s) + $1))
	shift
	until all_arrived "$@"; do
		[ "$(date +%s)" -lt "$end" ] || fail "not every record arrived: $(cat "$work/check.out")"
		sleep 1
	done
}
# wan down|up: the WAN is a black hole (the broker's host drops every packet on
# eth0 both ways) or back. The links stay up, as when the ISP's line fails
# beyond the router, so a restarted gateway can open its port in the outage.
wan() {
	local op=-I
	[ "$1" = up ] && op=-D
	ip netns exec "$NS_WAN" iptables -w "$op" INPUT -i eth0 -j DROP &&
		ip netns exec "$NS_WAN" iptables -w "$op" OUTPUT -o eth0 -j DROP || fail "iptables $op"
}
# connected_again N: the probes' log has more than N connections
connections() { cat "$work/probe.log" 2>/dev/null | grep -c 'uplink\] info: connected to'; }
more_connections() { [ "$(connections)" -gt "$1" ]; }
seq_only_goes_up() {
	awk 'BEGIN { prev = 0 } $1 == "put" { if ($2 <= prev) { print "tg.seq went back: " prev " then " $2; exit 1 } prev = $2 }' \
		"$work/puts" || fail "tg.seq went back"
}
maxseq() { awk '$1 == "put" { m = $2 } END { print m + 0 }' "$work/puts"; }

PHASES=${PHASES:-1 2 3}
phase() { [[ " $PHASES " == *" $1 "* ]]; }

# ---------------------------------------------------------------- 1. outage
: >"$work/puts"
if phase 1; then
probe 2000
wait_for 30 more_connections 0 || fail "the probe did not connect"
sleep 5
wan down
sleep "$OUTAGE"
wan up
during=$(awk '$1 == "put"' "$work/puts" | wc -l)
wait_all 120 --min-replayed $((OUTAGE / 2 - 10))
echo "ok: ${OUTAGE} s WAN outage, 2 s records: $(cat "$work/check.out")"
kill -TERM "$probe_pid"; wait "$probe_pid"; probe_pid=
grep -E '^stats ' "$work/puts" | tail -n 1
[ "$during" -gt $((OUTAGE / 2)) ] || fail "only $during records were put"
fi

# ---------------------------------------------------------------- 2. SIGKILL in the outage
if phase 2; then
before=$(maxseq)
n0=$(connections)
probe 2000
wait_for 30 more_connections "$n0" || fail "the probe did not connect again"
sleep 3
wan down
sleep $((OUTAGE / 3))
kill9
first=$(maxseq)
probe 2000
sleep $((OUTAGE / 3))
wan up
wait_all 150 --min-replayed $((OUTAGE / 3))
after=$(awk -v f="$first" '$1 == "put" && $2 > f' "$work/puts" | wc -l)
[ "$after" -gt 0 ] || fail "the restarted probe put nothing"
# tg.seq never went back: the restarted probe's first number is past every earlier one
restart_first=$(awk -v f="$first" '$1 == "put" && $2 > f { print $2; exit }' "$work/puts")
[ -n "$restart_first" ] && [ "$first" -gt "$before" ] ||
	fail "tg.seq: before $before, at the kill $first, after the restart $restart_first"
seq_only_goes_up
echo "ok: SIGKILL during the outage and a restart: $(cat "$work/check.out")"
kill -TERM "$probe_pid"; wait "$probe_pid"; probe_pid=
fi

# ---------------------------------------------------------------- 3. kill -9 at random points
if phase 3; then
for i in $(seq "$KILLS"); do
	probe 20
	# 0.2 to 2.0 s: before the connection, during the handshake, while batches are in flight
	sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.2 + (r % 180) / 100 }')"
	kill9
done
probe 2000
wait_all 180 --allow-unknown
unknown=$(sed -n 's/.* \([0-9]*\) unknown.*/\1/p' "$work/check.out")
[ "${unknown:-0}" -le "$KILLS" ] || fail "$unknown records arrived that were never put (at most one per kill may)"
seq_only_goes_up
echo "ok: kill -9 at random points, $KILLS times, records every 20 ms: $(cat "$work/check.out")"
echo "    ($unknown record(s) reached flash in the instant between spool_put and the probe's \"put\" line)"
grep -q 'damaged\|torn' "$work/probe.log" && grep -E 'damaged|torn' "$work/probe.log" | tail -n 3
kill -TERM "$probe_pid"; wait "$probe_pid"; probe_pid=
fi
echo PASS
