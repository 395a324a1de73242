#!/usr/bin/env bash
# tg-hub against a real Mosquitto broker, the way a region runs them:
#
#   tg-hub provision ─► CA, broker, hub, gw-a, gw-b: keys, certificates, mosquitto.conf, acl
#                                  │
#                 mosquitto -c broker/mosquitto.conf   (127.0.0.1 and localhost, random port)
#                 ▲               ▲                      ▲
#   tg-hub publish (hub cert)     tg-hub fleet, cmd      mosquitto_sub/pub as gw-a, gw-b,
#   full, delta + full            (hub cert)             a foreign CA's gateway, no certificate
#
# Checked: every certificate verifies with openssl; a gateway receives the
# retained full bundle and the delta byte for byte, delta first; the acl lets
# a gateway write only its own topics and read only bundles and its own
# commands; the broker refuses a certificate from another CA and a client
# without one, and says why in its log; the last will marks a killed gateway
# offline in `tg-hub fleet`; `tg-hub cmd` signatures verify with openssl.
#
# Loopback rather than a network namespace: the test needs neither routing nor
# a second host, a random free port keeps parallel runs apart, and it runs
# without root. As root, Mosquitto drops to its own user after reading its
# configuration, so the broker's directory is handed to that user, as on a
# real broker.
set -euo pipefail
top=$(cd "${TOP:-.}" && pwd)
. "$top/tests/lib.sh"
hub=$top/${BUILD:-build}/tg-hub
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
for t in "$MOSQUITTO" mosquitto_sub mosquitto_pub openssl xxd; do
	command -v "$t" >/dev/null || { echo "skip: $t not installed (tools/install-deps)"; exit 77; }
done
[ -x "$hub" ] || { echo "FAIL: $hub not built"; exit 1; }

make_work
cd "$work"

R=north
on_fail() { show_log broker.log 20; }

# ---------------------------------------------------------------- provision
port=$(free_port)
run 0 "$hub" provision --out pki --region $R --broker-host localhost --broker-ip 127.0.0.1 \
	--port "$port" --gateways gw-a,gw-b
has out "CA       pki/ca.crt: new"
for k in pki/ca.key pki/broker/broker.key pki/hub/hub-client.key pki/gateways/gw-a/gw.key pki/gateways/gw-b/gw.key; do
	[ "$(stat -c %a "$k")" = 600 ] || fail "$k: mode $(stat -c %a "$k"), expected 600"
done
openssl verify -CAfile pki/ca.crt pki/ca.crt >/dev/null || fail "the CA does not verify"
openssl verify -x509_strict -purpose sslserver -CAfile pki/ca.crt pki/broker/broker.crt >/dev/null ||
	fail "broker.crt does not verify as a TLS server certificate"
for c in pki/hub/hub-client.crt pki/gateways/gw-a/gw.crt pki/gateways/gw-b/gw.crt; do
	openssl verify -x509_strict -purpose sslclient -CAfile pki/ca.crt "$c" >/dev/null ||
		fail "$c does not verify as a TLS client certificate"
done
openssl x509 -in pki/ca.crt -noout -text >ca.txt
has ca.txt "CA:TRUE"
has ca.txt "Certificate Sign, CRL Sign"
has ca.txt "ecdsa-with-SHA256"
openssl x509 -in pki/broker/broker.crt -noout -text >broker.txt
has broker.txt "DNS:localhost, IP Address:127.0.0.1"
has broker.txt "TLS Web Server Authentication"
openssl x509 -in pki/gateways/gw-a/gw.crt -noout -subject -ext extendedKeyUsage >gw.txt
has gw.txt "CN = gw:$R:gw-a"
has gw.txt "TLS Web Client Authentication"
cmp -s pki/ca.crt pki/gateways/gw-a/ca.crt || fail "gw-a's ca.crt is not the CA"
has pki/broker/acl "user gw:$R:gw-b"
has pki/broker/acl "topic write tg/v1/$R/gw/gw-b/#"
has pki/broker/mosquitto.conf "listener $port"
has pki/broker/mosquitto.conf "require_certificate true"

# a second run adds a gateway and keeps the CA and everything issued
cp pki/ca.crt ca.before && cp pki/gateways/gw-a/gw.crt gw-a.before
run 0 "$hub" provision --out pki --region $R --broker-host localhost --broker-ip 127.0.0.1 \
	--port "$port" --gateways gw-c
has out "CA       pki/ca.crt: kept"
cmp -s ca.before pki/ca.crt || fail "a second provision replaced the CA"
cmp -s gw-a.before pki/gateways/gw-a/gw.crt || fail "a second provision replaced gw-a's certificate"
openssl verify -CAfile pki/ca.crt pki/gateways/gw-c/gw.crt >/dev/null || fail "gw-c does not verify"
for g in gw-a gw-b gw-c; do has pki/broker/acl "user gw:$R:$g"; done
run 1 "$hub" provision --out pki --region south --broker-host localhost
has err "not \"tg-ca:south\""
# another region's CA, for the refusals below
run 0 "$hub" provision --out foreign --region $R --broker-host localhost --gateways gw-a

# ---------------------------------------------------------------- broker
if [ "$(id -u)" = 0 ]; then
	chown -R mosquitto: pki/broker
	chmod 711 "$work" pki
fi
"$MOSQUITTO" -c pki/broker/mosquitto.conf >broker.log 2>&1 &
started $!
must_log broker.log "mosquitto version .* running"

CA=(--cafile pki/ca.crt)
HUB=(--broker "localhost:$port" "${CA[@]}" --cert pki/hub/hub-client.crt --key pki/hub/hub-client.key --region $R)
GWA=(-h localhost -p "$port" "${CA[@]}" --cert pki/gateways/gw-a/gw.crt --key pki/gateways/gw-a/gw.key)
GWB=(-h localhost -p "$port" "${CA[@]}" --cert pki/gateways/gw-b/gw.crt --key pki/gateways/gw-b/gw.key)
HUBSUB=(-h localhost -p "$port" "${CA[@]}" --cert pki/hub/hub-client.crt --key pki/hub/hub-client.key)
T=tg/v1/$R
# Subscribers print "TOPIC HEX" lines; bytes FILE LINE: that line's payload.
FMT='%t %x'
bytes() { sed -n "$2p" "$1" | cut -d' ' -f2 | xxd -r -p; }
# sub NAME ARGS...: a subscriber in the background, output in NAME.out
sub() {
	local name=$1
	shift
	mosquitto_sub "$@" -F "$FMT" -W 10 >"$name.out" 2>"$name.err" &
	started $!
	eval "${name}_pid=$!"
}

# ---------------------------------------------------------------- bundles
run 0 "$hub" keygen --out keys
printf 'evil.example\n' >d1.txt
printf 'evil.example\nworse.example\n' >d2.txt
run 0 "$hub" build --key keys/hub.key --region $R --serial 1 --out b1.tgb domains:d1.txt
run 0 "$hub" build --key keys/hub.key --region $R --serial 2 --out b2.tgb domains:d2.txt
run 0 "$hub" diff --key keys/hub.key b1.tgb b2.tgb --out d12.delta
run 0 "$hub" build --key keys/hub.key --region south --serial 3 --out south.tgb domains:d1.txt

run 0 "$hub" publish "${HUB[@]}" b1.tgb
has out "to $T/bundle/full, retained"
run 1 "$hub" publish "${HUB[@]}" south.tgb
has err "region south, not $R"
run 2 "$hub" publish "${HUB[@]}" --previous b1.tgb b2.tgb
has err "--sign-key"

# gw-a gets the retained full bundle, byte for byte
mosquitto_sub "${GWA[@]}" -t "$T/bundle/full" -C 1 -W 5 -F "$FMT" >full1.out || fail "gw-a got no bundle/full"
bytes full1.out 1 >full1.bin
cmp -s full1.bin b1.tgb || fail "bundle/full received by gw-a differs from b1.tgb"

# serial 2 after 1: the delta, then the full bundle
sub upd "${GWA[@]}" -t "$T/bundle/#" -C 3
must_log upd.out "^$T/bundle/full " # subscribed: the retained serial 1 is there
run 0 "$hub" publish "${HUB[@]}" --previous b1.tgb --sign-key keys/hub.key b2.tgb
has out "published delta 1 -> 2"
wait "$upd_pid" || fail "gw-a's subscriber did not get 3 messages: $(cat upd.err)"
[ "$(cut -d' ' -f1 upd.out | tr '\n' ' ')" = "$T/bundle/full $T/bundle/delta $T/bundle/full " ] ||
	fail "gw-a got $(cut -d' ' -f1 upd.out | tr '\n' ' '), expected full (retained), delta, full"
bytes upd.out 2 >delta.bin
bytes upd.out 3 >full2.bin
cmp -s delta.bin d12.delta || fail "bundle/delta differs from tg-hub diff's output"
cmp -s full2.bin b2.tgb || fail "the new bundle/full differs from b2.tgb"
run 0 "$hub" verify --pub keys/hub.pub --region $R --serial-in-force 1 delta.bin

# ---------------------------------------------------------------- acl
sha=$(sha256sum b2.tgb | cut -d' ' -f1)
now=$(date +%s)
state_a='{"online":true,"gateway":"gw-a","region":"'$R'","firmware":"0.4.0","mode":"bridge",'
state_a+='"bundle":{"serial":2,"sha256":"'$sha'","created":'$now',"expires":'$((now + 86400))'},'
state_a+='"last_refusal":null,"waiting_for_full":false,"uptime_s":60,"time":'$now'}'
mosquitto_pub "${GWA[@]}" -t "$T/gw/gw-a/state" -q 1 -r -m "$state_a" || fail "gw-a cannot publish its own state"
run 0 "$hub" fleet "${HUB[@]}" --json
has out '{"gateway":"gw-a","online":true,"serial":2,"sha256":"'$sha'"'
run 0 "$hub" fleet "${HUB[@]}"
grep -qE "^gw-a +online +2 +${sha:0:12} +[0-9]+s +-$" out || fail "fleet's table lacks gw-a online at serial 2: $(cat out)"

# gw-a writing gw-b's state: dropped by the broker (3.1.1 acknowledges it anyway)
mosquitto_pub "${GWA[@]}" -t "$T/gw/gw-b/state" -q 1 -r -m '{"online":true,"gateway":"gw-b"}'
rc=0
mosquitto_sub "${HUBSUB[@]}" -t "$T/gw/gw-b/state" -C 1 -W 1 -F "$FMT" >spoof.out 2>/dev/null || rc=$?
[ "$rc" = 27 ] && [ ! -s spoof.out ] || fail "gw-a's publish to gw-b's state got through: $(cat spoof.out)"

# gw-a reads its own commands, not gw-b's; a command's signature verifies
sub cmds "${GWA[@]}" -t "$T/bundle/full" -t "$T/gw/gw-b/cmd" -t "$T/gw/gw-a/cmd" -C 2
must_log cmds.out "^$T/bundle/full "
run 0 "$hub" cmd "${HUB[@]}" --sign-key keys/hub.key --gateway gw-b resync
run 0 "$hub" cmd "${HUB[@]}" --sign-key keys/hub.key --gateway gw-a report
wait "$cmds_pid" || fail "gw-a did not get its command: $(cat cmds.err)"
[ "$(sed -n 2p cmds.out | cut -d' ' -f1)" = "$T/gw/gw-a/cmd" ] || fail "gw-a got $(cut -d' ' -f1 cmds.out)"
bytes cmds.out 2 >cmd.bin
head -n 1 cmd.bin | tr -d '\n' >cmd.json
tail -n +2 cmd.bin | base64 -d >cmd.sig
openssl dgst -sha256 -verify keys/hub.pub -signature cmd.sig cmd.json >/dev/null ||
	fail "the command's signature does not verify with hub.pub: $(cat cmd.bin)"
grep -qE '^\{"cmd":"report","gateway":"gw-a","region":"'$R'","issued":[0-9]+,"nonce":"[0-9a-f]{32}"\}$' cmd.json ||
	fail "unexpected command: $(cat cmd.json)"

# gw-a cannot replace the retained bundle
mosquitto_pub "${GWA[@]}" -t "$T/bundle/full" -q 1 -r -m forged
mosquitto_sub "${GWA[@]}" -t "$T/bundle/full" -C 1 -W 5 -F "$FMT" >full3.out || fail "no bundle/full"
bytes full3.out 1 >full3.bin
cmp -s full3.bin b2.tgb || fail "gw-a replaced the retained bundle/full"
# tg-hub speaks MQTT 5 and hears the broker's refusal
run 1 "$hub" publish --broker "localhost:$port" "${CA[@]}" --cert pki/gateways/gw-a/gw.crt \
	--key pki/gateways/gw-a/gw.key --region $R b2.tgb
has err "publish to $T/bundle/full: refused by the broker: Not authorized"

# ---------------------------------------------------------------- TLS refusals
# a certificate from another CA
n=$(grep -c "certificate verify failed" broker.log || true)
rc=0
mosquitto_pub -h localhost -p "$port" "${CA[@]}" --cert foreign/gateways/gw-a/gw.crt \
	--key foreign/gateways/gw-a/gw.key -t "$T/gw/gw-a/state" -q 1 -m x 2>pub.err || rc=$?
[ "$rc" != 0 ] || fail "the broker took a certificate from another CA"
for _ in $(seq 20); do
	[ "$(grep -c "certificate verify failed" broker.log)" -gt "$n" ] && break
	sleep 0.1
done
[ "$(grep -c "certificate verify failed" broker.log)" -gt "$n" ] || fail "the broker's log does not say why it refused"
run 1 "$hub" fleet --broker "localhost:$port" "${CA[@]}" --cert foreign/hub/hub-client.crt \
	--key foreign/hub/hub-client.key --region $R
has err "localhost:$port: connect"

# no certificate at all
rc=0
mosquitto_pub -h localhost -p "$port" "${CA[@]}" -t "$T/gw/gw-a/state" -q 1 -m x 2>pub.err || rc=$?
[ "$rc" != 0 ] || fail "the broker took a client without a certificate"
must_log broker.log "peer did not return a certificate" 2

# the broker's name is checked: 127.0.0.2 is not in its certificate
run 1 "$hub" fleet --broker "127.0.0.2:$port" "${CA[@]}" --cert pki/hub/hub-client.crt \
	--key pki/hub/hub-client.key --region $R
has err "certificate verify failed"

# ---------------------------------------------------------------- last will
mosquitto_pub "${GWB[@]}" -t "$T/gw/gw-b/state" -q 1 -r \
	-m '{"online":true,"gateway":"gw-b","region":"'$R'","bundle":null,"last_refusal":{"reason":"signature","serial":9,"kind":"full","at":1},"time":'"$(date +%s)"'}'
sub gwb "${GWB[@]}" -t "$T/bundle/full" --will-topic "$T/gw/gw-b/state" --will-retain --will-qos 1 \
	--will-payload '{"online":false,"gateway":"gw-b","region":"'$R'"}'
must_log gwb.out "^$T/bundle/full "
run 0 "$hub" fleet "${HUB[@]}"
grep -qE "^gw-b +online +- +- +[0-9]+s +signature$" out || fail "fleet does not show gw-b online: $(cat out)"
kill -KILL "$gwb_pid"
wait "$gwb_pid" 2>/dev/null || true
offline=
for _ in 1 2 3; do
	run 0 "$hub" fleet "${HUB[@]}" --json
	grep -qF '{"gateway":"gw-b","online":false' out && { offline=1; break; }
done
[ -n "$offline" ] || fail "gw-b's last will did not make it offline: $(cat out)"
run 0 "$hub" fleet "${HUB[@]}"
grep -qE "^gw-b +offline +- +- +- +-$" out || fail "fleet's table: $(cat out)"

# ---------------------------------------------------------------- timeout
if [ -x /usr/bin/python3 ]; then
	silent=$(free_port)
	/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); time.sleep(5)' "$silent" &
	started $!
	wait_for 5 listening "$silent" || fail "the silent listener on $silent did not start"
	run 1 "$hub" publish --timeout 1 --broker "127.0.0.1:$silent" "${CA[@]}" --cert pki/hub/hub-client.crt \
		--key pki/hub/hub-client.key --region $R b2.tgb
	has err "no answer within 1 s (--timeout)"
fi
echo "ok: provision, publish (full, delta), fleet, cmd, acl, TLS refusals, last will"
