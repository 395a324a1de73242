#!/usr/bin/env bash
# What the gateway trusts across a restart, and by which clock, in the lab
# with a real Mosquitto (tests/lab: the gateway in bridge mode, DHCP, SNTP
# and the broker on the WAN side, the PKI from tg-hub provision):
#
#   LAN ── tg-lan [gateway: townguard, lwIP uplink] tg-wan ── WAN: dnsmasq (DHCP),
#                                                            sntp_server.py (a chosen time),
#                                                            mosquitto :8883, tg-hub
#
#   1. a signed command is carried out and captured off the broker; the
#      gateway restarts; the captured command sent again is refused as a
#      replay, the log naming the nonce and its age (<data>/cmd-nonces);
#   2. the broker gets a certificate (openssl, tests/lab/dated_cert.sh) that
#      the system clock calls valid, SNTP says it is 60 days later: the
#      gateway refuses it, the log line naming the subject, the dates, the
#      time used and that it came from SNTP, and never connects;
#   3. the broker gets one that expired in 2020 by the system clock, SNTP
#      says mid-2020: the gateway connects (the dates are SNTP's call).
set -uo pipefail
MODE=bridge
. "${TOP:-.}/tests/lab/inline_checks.sh"
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] ||
	{ echo "skipped: no mosquitto"; exit 77; }
command -v openssl >/dev/null || { echo "skipped: no openssl"; exit 77; }
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
dated=$top/tests/lab/dated_cert.sh

inline_setup
hub_lab_up
T=tg/v1/$R/gw/gw-lab
HUBSUB=(-h "$DNS_IP" -p 8883 --cafile "$pki/ca.crt" --cert "$pki/hub/hub-client.crt" --key "$pki/hub/hub-client.key")

gw_start() {
	: >"$work/tg.log"
	ip netns exec "$NS_GW" "$tg" run -c "$work/gw.ini" >/dev/null 2>"$work/tg.log" &
	tgpid=$!
}
gw_stop() {
	kill -TERM "$tgpid"
	wait "$tgpid" || fail "townguard exited with $? on SIGTERM"
	tgpid=
}
# sntp_at TIME: the lab's SNTP server answers TIME (Unix seconds, or "now") from now on
sntp_at() {
	local p
	p=$(wan_pid sntp_server.py) && kill "$p"
	ip netns exec "$NS_WAN" /usr/bin/python3 "$top/tests/lab/sntp_server.py" "$DNS_IP" "$1" >"$work/sntp.log" 2>&1 &
	wait_log "$work/sntp.log" listening 5 || fail "the SNTP server did not start"
}
# broker_cert NAME: the broker restarted with the dated certificate NAME
broker_cert() {
	local p
	cp "$work/dated/$1.crt" "$pki/broker/broker.crt"
	cp "$work/dated/$1.key" "$pki/broker/broker.key"
	chown mosquitto: "$pki/broker/broker.crt" "$pki/broker/broker.key" 2>/dev/null
	p=$(wan_pid "mosquitto -c $pki/broker/mosquitto.conf") && kill "$p"
	for _ in $(seq 50); do wan_pid "mosquitto -c" >/dev/null || break; sleep 0.1; done
	: >"$work/broker.log"
	ip netns exec "$NS_WAN" "$MOSQUITTO" -c "$pki/broker/mosquitto.conf" >"$work/broker.log" 2>&1 &
	wait_log "$work/broker.log" running 5 || fail "mosquitto did not restart: $(cat "$work/broker.log")"
}

# ------------------------------------------------------------ 1. a replayed command
gw_start
wait_log "$work/tg.log" 'uplink\] info: connected to' 15
grep -q 'connected to 10.99.0.1:8883' "$work/tg.log" || fail "the gateway did not connect"
ip netns exec "$NS_WAN" mosquitto_sub "${HUBSUB[@]}" -t "$T/cmd" -C 1 -W 10 -F '%x' >"$work/cmd.hex" 2>"$work/sub.err" &
subpid=$!
sleep 0.5
ip netns exec "$NS_WAN" "$hub" cmd "${HUB[@]}" --sign-key "$work/hub/hub.key" --gateway gw-lab report \
	>/dev/null 2>"$work/cmd.err" || fail "tg-hub cmd: $(cat "$work/cmd.err")"
wait "$subpid" || fail "the command was not captured: $(cat "$work/sub.err")"
xxd -r -p "$work/cmd.hex" >"$work/cmd.bin"
nonce=$(head -n 1 "$work/cmd.bin" | sed -n 's/.*"nonce":"\([0-9a-f]*\)".*/\1/p')
[ -n "$nonce" ] || fail "no nonce in the captured command: $(head -n 1 "$work/cmd.bin")"
wait_log "$work/tg.log" 'command from the hub: report' 5
grep -q 'command from the hub: report' "$work/tg.log" || fail "the signed command was not carried out"
grep -q "^$nonce [0-9]* [0-9]*$" "$work/data/cmd-nonces" || fail "the nonce is not in <data>/cmd-nonces: $(cat "$work/data/cmd-nonces")"
gw_stop
sleep 2 # an age to see
gw_start
wait_log "$work/tg.log" 'uplink\] info: connected to' 15
grep -q "1 command nonces from $work/data/cmd-nonces" "$work/tg.log" || fail "the nonces were not loaded at start"
ip netns exec "$NS_WAN" mosquitto_pub "${HUBSUB[@]}" -t "$T/cmd" -q 1 -f "$work/cmd.bin" || fail "mosquitto_pub of the captured command"
wait_log "$work/tg.log" 'command refused' 5
line=$(grep 'command refused' "$work/tg.log") || fail "the replayed command was not refused"
[[ "$line" =~ "command refused: replay: nonce $nonce was carried out "([0-9]+)" s ago (issued "[0-9]+" s ago; $work/data/cmd-nonces)" ]] ||
	fail "unexpected refusal: $line"
[ "${BASH_REMATCH[1]}" -ge 2 ] || fail "the nonce's age is ${BASH_REMATCH[1]} s, the restart alone took 2: $line"
grep -q 'command from the hub: report' "$work/tg.log" && fail "the replayed command was carried out after the restart"
gw_stop
echo "ok: a command captured and replayed after a restart is refused: $line"

# ------------------------------------------------------------ 2, 3. certificate dates by SNTP
mkdir -p "$work/dated"
now=$(date +%s)
"$dated" "$work/dated" ca || fail "dated_cert.sh ca"
"$dated" "$work/dated" current "$(date -u -d @$((now - 86400)) +%Y%m%d%H%M%SZ)" \
	"$(date -u -d @$((now + 30 * 86400)) +%Y%m%d%H%M%SZ)" || fail "dated_cert.sh current"
"$dated" "$work/dated" past 20200101000000Z 20201231235959Z || fail "dated_cert.sh past"
cp "$work/dated/ca.crt" "$work/data/keys/ca.crt"

# 2. valid by the system clock, expired at SNTP's time
broker_cert current
sntp_at $((now + 60 * 86400))
gw_start
wait_log "$work/tg.log" 'broker certificate .* refused' 20
line=$(grep 'broker certificate' "$work/tg.log") || fail "no refusal of the broker certificate"
[[ "$line" == *'uplink] error: broker certificate "CN=hub.test" refused: expired (valid '*"; time $(date -u -d @$((now + 60 * 86400)) +%Y-%m-%dT)"*', from SNTP from 10.99.0.1)' ]] ||
	fail "unexpected line: $line"
wait_log "$work/tg.log" 'uplink\] warn: connection to' 10
grep -q 'uplink\] info: connected' "$work/tg.log" && fail "connected to a broker whose certificate expired by SNTP's time"
gw_stop
echo "ok: refused at SNTP's time although the system clock says valid: $line"

# 3. expired by the system clock, valid at SNTP's time
broker_cert past
sntp_at 1590969600 # 2020-06-01T00:00:00Z
gw_start
wait_log "$work/tg.log" 'uplink\] info: connected to' 20
grep -q 'uplink\] info: connected to 10.99.0.1:8883' "$work/tg.log" ||
	fail "no connection to a broker whose certificate is valid at SNTP's time: $(grep uplink "$work/tg.log" | tail -n 3)"
grep -q 'refused' "$work/tg.log" && fail "a refusal: $(grep refused "$work/tg.log")"
gw_stop
echo "ok: a certificate expired by the system clock is taken at SNTP's time (mid-2020)"
