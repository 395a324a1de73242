#!/usr/bin/env bash
# The report spool and the wire end to end, in the lab: records go to the
# spool on flash, over lwIP MQTT with mutual TLS to a real Mosquitto (PKI and
# per-gateway ACLs from `tg-hub provision`), and a SOC subscriber with its own
# certificate checks every one (report_check.py: zstd frames of JSON lines,
# deduplicated by observer.id and tg.seq).
#
#   LAN ns            gateway ns                         WAN ns
#                     report_probe gw-lab   ─┐
#                     report_probe gw-kill  ─┼ tg-wan ══ eth0: dnsmasq (DHCP), SNTP,
#                     report_probe gw-crash ─┘              Mosquitto 10.99.0.1:8883,
#                     (mgmt + uplink + spool, each          mosquitto_sub (the SOC)
#                      its own MAC, address and flash)
#
# report_probe (tests/lwip/report_probe.c) is the gateway's report path with
# a record source whose numbers the test knows; it prints "put SEQ" once a
# record is on flash. Three gateways, one per phase, run side by side (the
# phases share nothing but the broker and the SOC, which tell gateways apart
# by observer.id and topic). An outage is a black hole on the broker's side
# for the gateways it hits (iptables on the WAN's eth0 drops every frame from
# their MACs and every packet to their addresses), the links staying up:
#   1. gw-lab: a WAN outage of OUTAGE_SECONDS (60) with 2 s records: after
#      it, every record arrives exactly once by tg.seq, those of the outage
#      marked tg.replayed;
#   2. gw-kill, in the same outage: killed (SIGKILL) 12 s before its end and
#      started again at once: nothing lost, tg.seq only goes up;
#   3. gw-crash, meanwhile, with its WAN up: kill -9 at random points while
#      records are written every 20 ms, KILLS (50) times: every record on
#      flash before a kill arrives, none twice after deduplication, and no
#      record that was never put; then started again and stopped cleanly
#      (SIGTERM), and started once more: tg.seq still only goes up;
#   4. gw-ack, meanwhile: the broker gets its messages but its PUBACKs are
#      lost (the WAN drops every packet to gw-ack; what gw-ack sends passes):
#      the SOC has those records, the gateway must still hold them. Killed
#      (SIGKILL) and started with the WAN whole: every record the SOC had
#      from the one-way outage arrives again (tg.replayed). A gateway that
#      deleted records at send time instead of at the PUBACK fails here
#      (phases 1 to 3 do not see it: their records all reach the SOC).
set -uo pipefail
MODE=bridge
LAB_PREFIX=tgQ
HUB_GATEWAYS=gw-lab,gw-kill,gw-crash,gw-ack
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
# batch_intervals = 1: the probe's summaries go as they are put, not held for the next ones
# (this test is about losing nothing; report_live runs the default hold)
printf '%s\n' '[report]' 'spool_kb = 4096' 'drain_bps = 65536' 'batch_intervals = 1' >>"$work/gw.ini"
# gateway_ini ID: $work/ID.ini, gw.ini with gateway ID's id, flash ($work/data-ID) and keys.
gateway_ini() {
	mkdir -p "$work/data-$1/keys"
	cp "$work/data/keys/hub.pub" "$work/data/keys/ca.crt" "$work/data-$1/keys/"
	cp "$pki/gateways/$1/gw.key" "$pki/gateways/$1/gw.crt" "$work/data-$1/keys/"
	sed -e "s/^id = .*/id = $1/" -e "s|^data_dir = .*|data_dir = $work/data-$1|" "$work/gw.ini" >"$work/$1.ini"
	: >"$work/$1.puts"
}
for id in ${HUB_GATEWAYS//,/ }; do gateway_ini "$id"; done
on_fail() {
	local id
	for id in ${HUB_GATEWAYS//,/ }; do show_log "$work/$id.log" 20; done
	show_log "$work/sub.err"
	show_log "$work/broker.log" 10
}

# The SOC: a persistent QoS 1 session, so nothing is missed while it stays up.
ip netns exec "$NS_WAN" mosquitto_sub -h "$DNS_IP" -p 8883 --cafile "$pki/ca.crt" \
	--cert "$pki/hub/hub-client.crt" --key "$pki/hub/hub-client.key" -i soc-test -c -q 1 \
	-t "tg/v1/$R/gw/+/#" -F '%t %x' >"$work/sub.out" 2>"$work/sub.err" &
sub_pid=$!
declare -A pid=() mac=() addr=()
crash_pid= ack_pid=
stop_all() {
	local p
	[ -n "$crash_pid" ] && kill -KILL "$crash_pid" 2>/dev/null
	[ -n "$ack_pid" ] && kill -KILL "$ack_pid" 2>/dev/null
	for p in "${pid[@]}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
	kill "$sub_pid" 2>/dev/null
}
trap 'stop_all; [ -n "${KEEP:-}" ] || inline_cleanup' EXIT

# probe ID EVERY_MS: gateway ID's probe in the gateway namespace, its "put"
# lines appended to $work/ID.puts, its log to $work/ID.log.
probe() {
	ip netns exec "$NS_GW" "$probe" -c "$work/$1.ini" --iface tg-wan --every "$2" \
		>>"$work/$1.puts" 2>>"$work/$1.log" &
	pid[$1]=$!
}
kill9() { kill -KILL "${pid[$1]}" 2>/dev/null; wait "${pid[$1]}" 2>/dev/null; pid[$1]=; }
stop_probe() { kill -TERM "${pid[$1]}"; wait "${pid[$1]}"; pid[$1]=; }
# all_arrived ID ARGS...: every record gateway ID put has arrived (report_check.py ARGS).
all_arrived() {
	grep "^tg/v1/$R/gw/$1/" "$work/sub.out" >"$work/$1.sub"
	"$check" "$work/$1.sub" "$work/$1.puts" "${@:2}" >"$work/$1.check" 2>&1
}
# wait_all ID SECONDS ARGS...: until all_arrived ID ARGS.
# (A check decompresses every message so far: once a second, by the clock.)
wait_all() {
	local end=$(($(date +%s) + $2))
	until all_arrived "$1" "${@:3}"; do
		[ "$(date +%s)" -lt "$end" ] || fail "$1: not every record arrived: $(cat "$work/$1.check")"
		sleep 1
	done
}
# a_summary_arrived ID: the SOC has a summary message from gateway ID.
a_summary_arrived() { grep -q "^tg/v1/$R/gw/$1/summary " "$work/sub.out"; }
# connections ID: how many times gateway ID's probes connected to the broker.
connections() { grep -c 'uplink\] info: connected to' "$work/$1.log" 2>/dev/null; }
more_connections() { [ "$(connections "$1")" -gt "$2" ]; }
# learn_link ID: mac[ID] and addr[ID], as its probe's log says (DHCP).
learn_link() {
	mac[$1]=$(sed -n 's/.* up: MAC \([0-9a-f:]*\),.*/\1/p' "$work/$1.log" | tail -n 1)
	addr[$1]=$(sed -n 's/.* address \([0-9.]*\) netmask .*/\1/p' "$work/$1.log" | tail -n 1)
	[ -n "${mac[$1]}" ] && [ -n "${addr[$1]}" ] || fail "$1: no MAC or address in its log"
}
# wan down|up ID...: the WAN is a black hole for gateways ID... (the broker's
# host drops every frame from their MACs, DHCP and SNTP included, and every
# packet to their addresses on eth0) or back. The links stay up, as when the
# ISP's line fails beyond the router, so a restarted gateway can open its
# port in the outage; the other gateways' traffic passes.
wan() {
	local op=-I id
	[ "$1" = up ] && op=-D
	for id in "${@:2}"; do
		ip netns exec "$NS_WAN" iptables -w "$op" INPUT -i eth0 -m mac --mac-source "${mac[$id]}" -j DROP &&
			ip netns exec "$NS_WAN" iptables -w "$op" OUTPUT -o eth0 -d "${addr[$id]}" -j DROP ||
			fail "iptables $op for $id"
	done
}
seq_only_goes_up() {
	awk 'BEGIN { prev = 0 } $1 == "put" { if ($2 <= prev) { print "tg.seq went back: " prev " then " $2; exit 1 } prev = $2 }' \
		"$work/$1.puts" || fail "$1: tg.seq went back"
}
maxseq() { awk '$1 == "put" { m = $2 } END { print m + 0 }' "$work/$1.puts"; }
put_past() { [ "$(maxseq "$1")" -gt "$2" ]; }

PHASES=${PHASES:-1 2 3 4}
phase() { [[ " $PHASES " == *" $1 "* ]]; }

# ------------------------------------------- 3. kill -9 at random points (beside 1 and 2)
# In a subshell: it fails by its exit status (its FAIL line is on stderr).
crash_phase() {
	for _ in $(seq "$KILLS"); do
		probe gw-crash 20
		# 0.2 to 2.0 s: before the connection, during the handshake, while batches are in flight
		sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.2 + (r % 180) / 100 }')"
		kill9 gw-crash
	done
	probe gw-crash 2000
	wait_all gw-crash 180 --allow-unknown
	stop_probe gw-crash
}
if phase 3; then
	crash_phase &
	crash_pid=$!
fi

# ------------------------------------------- 4. PUBACKs lost (beside 1 and 2)
# seqs_between ID FROM TO: the tg.seq of every record of gateway ID in the SOC's lines FROM+1..TO, one a line.
seqs_between() {
	awk -v f="$2" -v t="$3" 'NR > f && NR <= t' "$work/sub.out" | grep "^tg/v1/$R/gw/$1/\(summary\|alert\|asset\) " |
		/usr/bin/python3 -c '
import json, subprocess, sys
for line in sys.stdin:
    out = subprocess.run(["zstd", "-dcq", "-D", sys.argv[1]], input=bytes.fromhex(line.split()[1]),
                         capture_output=True, check=True).stdout
    for rec in out.decode().splitlines():
        print(json.loads(rec)["tg"]["seq"])' "$top/firmware/report/records-v2.zdict" | sort -u
}
lines_past() { [ "$(wc -l <"$work/sub.out")" -gt "$1" ]; }
a_message_from_past() { [ -n "$(seqs_between "$1" "$2" "$(wc -l <"$work/sub.out")")" ]; }
# sent_again ID FILE FROM: every tg.seq of FILE is in a message of ID after the SOC's line FROM.
sent_again() { [ -z "$(comm -23 "$2" <(seqs_between "$1" "$3" "$(wc -l <"$work/sub.out")"))" ]; }
ack_phase() {
	local n0 n1 end id=gw-ack
	# (a subshell: the parent does not know its probe's pid)
	trap '[ -n "${pid[gw-ack]:-}" ] && kill -KILL "${pid[gw-ack]}" 2>/dev/null' EXIT
	probe "$id" 500
	wait_for 30 more_connections "$id" 0 || fail "$id: the probe did not connect"
	wait_for 10 a_summary_arrived "$id" || fail "$id: no summary arrived before its PUBACKs were lost"
	learn_link "$id"
	n0=$(wc -l <"$work/sub.out")
	ip netns exec "$NS_WAN" iptables -w -I OUTPUT -o eth0 -d "${addr[$id]}" -j DROP || fail "iptables for $id"
	# the broker gets messages it cannot acknowledge (2 wait for their PUBACK at most)
	end=$(($(date +%s) + 20))
	until a_message_from_past "$id" "$n0"; do
		[ "$(date +%s)" -lt "$end" ] || fail "$id: nothing reached the SOC with its PUBACKs lost"
		sleep 0.5
	done
	sleep 3
	n1=$(wc -l <"$work/sub.out")
	seqs_between "$id" "$n0" "$n1" >"$work/$id.unacked"
	kill9 "$id"
	ip netns exec "$NS_WAN" iptables -w -D OUTPUT -o eth0 -d "${addr[$id]}" -j DROP || fail "iptables -D for $id"
	probe "$id" 500
	# (each look decompresses the messages since: once a second, by the clock)
	end=$(($(date +%s) + 40))
	until sent_again "$id" "$work/$id.unacked" "$n1"; do
		[ "$(date +%s)" -lt "$end" ] && sleep 1 && continue
		fail "$id: records the broker never acknowledged were not sent again after a restart (deleted at send?):" \
			"$(comm -23 "$work/$id.unacked" <(seqs_between "$id" "$n1" "$(wc -l <"$work/sub.out")") | head -n 5 | tr '\n' ' ')"
	done
	stop_probe "$id"
	echo "ok: PUBACKs lost, kill -9, restart: the $(wc -l <"$work/$id.unacked") records the SOC had" \
		"without a PUBACK (tg.seq $(sort -n "$work/$id.unacked" | head -n 1)..$(sort -n "$work/$id.unacked" | tail -n 1)) were sent again"
}
ack_pid=
if phase 4; then
	ack_phase &
	ack_pid=$!
fi

# ------------------------------------------- 1. outage and 2. SIGKILL in the outage
outage=()
phase 1 && outage+=(gw-lab)
phase 2 && outage+=(gw-kill)
if [ ${#outage[@]} -gt 0 ]; then
	for id in "${outage[@]}"; do probe "$id" 2000; done
	for id in "${outage[@]}"; do
		wait_for 30 more_connections "$id" 0 || fail "$id: the probe did not connect"
		# The link carried a report before it fails.
		wait_for 10 a_summary_arrived "$id" || fail "$id: no summary arrived before the outage"
		learn_link "$id"
	done
	wan down "${outage[@]}"
	# gw-kill restarts 12 s before the outage ends: its DHCP discovers, lost
	# in the outage, go at 0, 2, 6, 14, 30 s from its start (lwIP's backoff),
	# so the fourth, 2 s after the outage, gets its address; a restart 20 s
	# before the end would wait for the fifth, 10 s after.
	sleep $((OUTAGE - 12))
	if phase 2; then
		kill9 gw-kill
		first=$(maxseq gw-kill)
		probe gw-kill 2000
	fi
	sleep 12
	wan up "${outage[@]}"
fi

if phase 1; then
	during=$(awk '$1 == "put"' "$work/gw-lab.puts" | wc -l)
	wait_all gw-lab 120 --min-replayed $((OUTAGE / 2 - 10))
	echo "ok: ${OUTAGE} s WAN outage, 2 s records: $(cat "$work/gw-lab.check")"
	stop_probe gw-lab
	grep -E '^stats ' "$work/gw-lab.puts" | tail -n 1
	[ "$during" -gt $((OUTAGE / 2)) ] || fail "only $during records were put"
fi

if phase 2; then
	wait_all gw-kill 150 --min-replayed $((OUTAGE / 3))
	after=$(awk -v f="$first" '$1 == "put" && $2 > f' "$work/gw-kill.puts" | wc -l)
	[ "$after" -gt 0 ] || fail "the restarted probe put nothing"
	# tg.seq never went back: the restarted probe's first number is past every earlier one
	restart_first=$(awk -v f="$first" '$1 == "put" && $2 > f { print $2; exit }' "$work/gw-kill.puts")
	[ -n "$restart_first" ] && [ "$first" -gt 0 ] ||
		fail "tg.seq: at the kill $first, after the restart $restart_first"
	seq_only_goes_up gw-kill
	echo "ok: SIGKILL $((OUTAGE - 12)) s into the ${OUTAGE} s outage and a restart: $(cat "$work/gw-kill.check")"
	stop_probe gw-kill
fi

if phase 4; then
	wait "$ack_pid" || fail "the lost-PUBACK phase failed (its FAIL line is above)"
	ack_pid=
fi

if phase 3; then
	wait "$crash_pid" || fail "the kill -9 phase failed (its FAIL line is above)"
	crash_pid=
	unknown=$(sed -n 's/.* \([0-9]*\) unknown.*/\1/p' "$work/gw-crash.check")
	[ "${unknown:-0}" -le "$KILLS" ] || fail "$unknown records arrived that were never put (at most one per kill may)"
	seq_only_goes_up gw-crash
	echo "ok: kill -9 at random points, $KILLS times, records every 20 ms: $(cat "$work/gw-crash.check")"
	echo "    ($unknown record(s) reached flash in the instant between spool_put and the probe's \"put\" line)"
	grep -q 'damaged\|torn' "$work/gw-crash.log" && grep -E 'damaged|torn' "$work/gw-crash.log" | tail -n 3
	# After a clean stop (SIGTERM) the next start goes on counting too.
	before=$(maxseq gw-crash)
	probe gw-crash 200
	wait_for 10 put_past gw-crash "$before" || fail "gw-crash put nothing after a clean stop"
	stop_probe gw-crash
	seq_only_goes_up gw-crash
	echo "ok: tg.seq goes on after a clean stop: $before, then $(maxseq gw-crash)"
fi
echo PASS
