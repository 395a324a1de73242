#!/usr/bin/env bash
# The hub link end to end, in the lab: the gateway (bridge mode) gets its
# management address by DHCP and its time by SNTP on lwIP, connects over
# mutual TLS to a real Mosquitto (configuration, certificates and per-gateway
# ACLs from `tg-hub provision`, broker name checked against its certificate),
# and publishes its retained state (first, with a wrong server name
# configured, it must refuse the broker). Then:
#   - `tg-hub publish` of serial 2 (delta from serial 1, then the full one)
#     is enforced: curl to the newly blocked name fails, fleet shows serial 2;
#   - a bundle signed by another key is refused: the reason is in state and
#     the log, serial 2 stays in force;
#   - an older serial, another region, a truncated payload and a delta on the
#     wrong base are refused too, each reason in state;
#   - a signed `report` command is carried out, one signed by another key is not;
#   - after a broker restart and after a 60 s WAN outage (during which the hub
#     publishes serial 8) the gateway reconnects by itself and catches up;
#   - the gateway's last will marks it offline when it is killed.
set -uo pipefail
MODE=bridge
. "${TOP:-.}/tests/lab/inline_checks.sh"
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] ||
	{ echo "skipped: no mosquitto"; exit 77; }
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

inline_setup
hub_lab_up
# tg-hub runs on the WAN side, where the broker is.
wan_hub() { ip netns exec "$NS_WAN" "$hub" "$@"; }
fleet_line() { wan_hub fleet "${HUB[@]}" --wait 1 --json 2>/dev/null | grep '"gw-lab"'; }

# The broker's name is checked, not only its CA: a certificate for hub.test
# does not pass for another name.
ip netns exec "$NS_GW" "$tg" run -c "$work/gw.ini" -o uplink.server_name=evil.test >/dev/null \
	2>"$work/tg-name.log" &
tgpid=$!
wait_log "$work/tg-name.log" 'uplink\] warn: connection' 10
kill -TERM "$tgpid"; wait "$tgpid"; tgpid=
grep -q 'uplink\] warn: connection to 10.99.0.1:8883' "$work/tg-name.log" ||
	fail "no failed connection with the wrong server name: $(tail -n 5 "$work/tg-name.log")"
grep -q 'uplink\] info: connected' "$work/tg-name.log" && fail "connected although the name is wrong"
echo "ok: a broker certificate for another name is refused"

ip netns exec "$NS_GW" "$tg" run -c "$work/gw.ini" >/dev/null 2>"$work/tg.log" &
tgpid=$!
wait_log "$work/tg.log" 'uplink\] info: connected to' 15
grep -q 'connected to 10.99.0.1:8883 as gw:lab:gw-lab' "$work/tg.log" || fail "the gateway did not connect"
grep -o 'management address [0-9.]* (DHCP)' "$work/tg.log"
sleep 0.5
line=$(fleet_line) || fail "fleet does not list gw-lab"
grep -q '"online":true' <<<"$line" && grep -q '"serial":1' <<<"$line" ||
	fail "fleet: not online at serial 1: $line"
echo "ok: DHCP, SNTP, mutual TLS; state online at serial 1"

# serial 2 also blocks allowed.test: the delta, then the full bundle.
echo allowed.test >>"$work/sni.txt"
"$hub" build --key "$work/hub/hub.key" --region lab --serial 2 --out "$work/lab2.bundle" \
	domains:"$work/sni.txt",rule=101 domains:"$work/host.txt",rule=102 \
	domains:"$work/bound.txt",rule=103 cidr:"$work/addr.txt",rule=104 >/dev/null
t0=$(date +%s%N)
wan_hub publish "${HUB[@]}" --sign-key "$work/hub/hub.key" --previous "$work/lab.bundle" \
	"$work/lab2.bundle" >"$work/publish.log" 2>&1 || fail "publish: $(cat "$work/publish.log")"
wait_log "$work/tg.log" 'from the hub in force: serial 2' 5
grep -q 'from the hub in force: serial 2 (delta bundle)' "$work/tg.log" ||
	fail "serial 2 not enforced from the delta"
echo "ok: serial 2 in force $(( ($(date +%s%N) - t0) / 1000000 )) ms after tg-hub publish started"
expect_fast_failure "newly blocked name" allowed.test 443 https "$ALLOWED_IP"
sleep 0.3
fleet_line | grep -q '"serial":2' || fail "fleet does not show serial 2: $(fleet_line)"

# A bundle signed by another key: refused, reason reported, serial 2 stays.
"$hub" keygen --out "$work/rogue" >/dev/null
"$hub" build --key "$work/rogue/hub.key" --region lab --serial 3 --out "$work/rogue.bundle" \
	domains:"$work/host.txt" >/dev/null
wan_hub publish "${HUB[@]}" "$work/rogue.bundle" >/dev/null 2>&1 || fail "publish of the rogue bundle"
wait_log "$work/tg.log" 'full bundle refused' 2.5
grep -q 'full bundle refused: .*signature' "$work/tg.log" || fail "no refusal logged"
sleep 0.3
line=$(fleet_line)
grep -q '"serial":2' <<<"$line" && grep -q 'signature' <<<"$line" || fail "state after refusal: $line"
expect_fast_failure "serial 2 still in force" allowed.test 443 https "$ALLOWED_IP"
echo "ok: forged bundle refused (signature), serial 2 in force"

# The other refusals, each with its reason in state; serial 2 stays in force.
refusal() { # WHAT REASON: the state's last_refusal after the last message
	local line
	for _ in $(seq 20); do
		line=$(fleet_line)
		grep -q "\"$2\"" <<<"$line" && break
	done
	grep -q '"serial":2' <<<"$line" && grep -q "\"$2\"" <<<"$line" || fail "$1: state says $line"
	echo "ok: $1 refused ($2), serial 2 in force"
}
wan_hub publish "${HUB[@]}" "$work/lab.bundle" >/dev/null 2>&1 || fail "publish serial 1 again"
refusal "an older serial" stale
"$hub" build --key "$work/hub/hub.key" --region south --serial 5 --out "$work/south.bundle" \
	domains:"$work/host.txt" >/dev/null
mosq_hub() { ip netns exec "$NS_WAN" mosquitto_pub -h "$DNS_IP" -p 8883 --cafile "$pki/ca.crt" \
	--cert "$pki/hub/hub-client.crt" --key "$pki/hub/hub-client.key" -q 1 "$@"; }
# (tg-hub publish refuses another region's bundle itself: the raw client sends it)
mosq_hub -t tg/v1/lab/bundle/full -r -f "$work/south.bundle" || fail "publish the south bundle"
refusal "another region's bundle" region
"$hub" build --key "$work/hub/hub.key" --region lab --serial 6 --out "$work/lab6.bundle" \
	domains:"$work/sni.txt" >/dev/null
head -c 300 "$work/lab6.bundle" >"$work/cut.bundle"
mosq_hub -t tg/v1/lab/bundle/full -r -f "$work/cut.bundle" || fail "publish the truncated bundle"
refusal "a truncated bundle" truncated
"$hub" build --key "$work/hub/hub.key" --region lab --serial 7 --out "$work/lab7.bundle" \
	domains:"$work/host.txt" >/dev/null
"$hub" diff --key "$work/hub/hub.key" "$work/lab6.bundle" "$work/lab7.bundle" --out "$work/d67.delta" >/dev/null
mosq_hub -t tg/v1/lab/bundle/delta -f "$work/d67.delta" || fail "publish the delta 6 -> 7"
refusal "a delta on the wrong base" base
fleet_line | grep -q '"waiting_for_full":true' || fail "state does not say it waits for a full bundle"
grep -q 'waiting for the next full bundle' "$work/tg.log" || fail "the log does not say it waits"
expect_fast_failure "serial 2 still in force" allowed.test 443 https "$ALLOWED_IP"

# Commands: signed by the hub key, carried out; by another key, refused.
wan_hub cmd "${HUB[@]}" --sign-key "$work/hub/hub.key" --gateway gw-lab report >/dev/null 2>&1 ||
	fail "tg-hub cmd"
wan_hub cmd "${HUB[@]}" --sign-key "$work/rogue/hub.key" --gateway gw-lab report >/dev/null 2>&1
wait_log "$work/tg.log" 'command refused' 2.5
grep -q 'command from the hub: report' "$work/tg.log" || fail "signed command not carried out"
grep -q 'command refused: signature' "$work/tg.log" || fail "forged command not refused"
echo "ok: signed command carried out, forged one refused"

# Broker restart: the gateway comes back by itself (the retained bundle survives in
# the broker's persistence).
pkill -f "mosquitto -c $pki/broker/mosquitto.conf"
sleep 1
ip netns exec "$NS_WAN" "$MOSQUITTO" -c "$pki/broker/mosquitto.conf" >>"$work/broker.log" 2>&1 &
n0=$(grep -c 'uplink\] info: connected to' "$work/tg.log")
reconnected() { [ "$(grep -c 'uplink\] info: connected to' "$work/tg.log")" -gt "$n0" ]; }
wait_for 20 reconnected
reconnected || fail "no reconnection after the broker restart"
grep -q 'connection to 10.99.0.1:8883 lost' "$work/tg.log" || fail "the loss was not logged"
echo "ok: reconnected after a broker restart"

# A 60 s WAN outage, during which the hub publishes serial 8: after it, the
# gateway reconnects by itself and catches up from the retained full bundle.
"$hub" build --key "$work/hub/hub.key" --region lab --serial 8 --out "$work/lab8.bundle" \
	domains:"$work/sni.txt",rule=101 domains:"$work/host.txt",rule=102 \
	cidr:"$work/addr.txt",rule=104 >/dev/null
ip -n "$NS_GW" link set tg-wan down
sleep 2
wan_hub publish "${HUB[@]}" "$work/lab8.bundle" >/dev/null 2>&1 || fail "publish serial 8"
sleep "${OUTAGE_SECONDS:-58}"
ip -n "$NS_GW" link set tg-wan up
t0=$(date +%s)
wait_log "$work/tg.log" 'from the hub in force: serial 8' 30
grep -q 'from the hub in force: serial 8' "$work/tg.log" || fail "did not catch up to serial 8 after the outage"
echo "ok: caught up to serial 8 $(( $(date +%s) - t0 )) s after a ${OUTAGE_SECONDS:-60} s WAN outage"

# SIGKILL: the broker publishes the will.
kill -KILL "$tgpid"; wait "$tgpid" 2>/dev/null; tgpid=
for _ in $(seq 30); do fleet_line | grep -q '"online":false' && break; sleep 0.5; done
fleet_line | grep -q '"online":false' || fail "no last will: $(fleet_line)"
echo "ok: last will shows the gateway offline"
echo PASS
