#!/usr/bin/env bash
# The console's diag finds and names each fault a technician meets, in the
# lab, over the console's pty (tests/console/pty_session.py types as a
# terminal would), in ONE townguard run (bridge mode) whose faults are
# injected and removed in turn:
#
#   client ── tg-lan [townguard, console on a pty] tg-wan ── WAN: dnsmasq DHCP,
#                                                            SNTP, Mosquitto
#
#   1. no DHCP server answers yet        -> "no DHCP answer"
#   2. DHCP answers, SNTP is silent      -> "the time is not set: no answer from the time server"
#   3. time set, connected; the list on flash is two days old -> "the blocklist (serial 2) is 2d"
#   4. the hub publishes serial 3        -> "OK: every check passed"
#   5. the WAN cable is pulled           -> "WAN port has no link", then OK again
#   6. the broker is stopped             -> "the hub's broker 10.99.0.1:8883 does not answer", then OK
#   7. the gateway certificate expired (openssl makes one) -> "gateway certificate expired on 2021-01-01"
#   8. the data partition (a 16 MiB tmpfs) is filled       -> "flash almost full"
#
# and `status` names the first problem on its PROBLEM line, `dns` and
# `ping` answer through the management stack, `lang zh_TW` turns diag's
# words Traditional Chinese.
set -uo pipefail
MODE=bridge
LAB_PREFIX=tgD
. "${TOP:-.}/tests/lab/inline_checks.sh"
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] ||
	{ echo "skipped: no mosquitto"; exit 77; }
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

diag_cleanup() {
	[ -n "${tgpid:-}" ] && kill -TERM "$tgpid" 2>/dev/null && wait "$tgpid" 2>/dev/null
	tgpid=
	umount "$work/data" 2>/dev/null
	inline_cleanup
}

inline_setup
[ -n "${KEEP:-}" ] || trap diag_cleanup EXIT
hub_lab_up

# pid_of NS TEXT: the process of namespace NS whose command line holds TEXT (a path of $work).
pid_of() {
	local p
	for p in $(ip netns pids "$1"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$2" && { echo "$p"; return 0; }
	done
	return 1
}
# DHCP comes later: the gateway starts without it (fault 1); the SNTP
# server is silent until $work/sntp.go exists (fault 2).
for what in "$work/leases" sntp_server.py; do
	p=$(pid_of "$NS_WAN" "$what") || fail "no $what process to stop"
	kill "$p"
done
ip netns exec "$NS_WAN" /usr/bin/python3 "$top/tests/lab/sntp_server.py" "$DNS_IP" now "$work/sntp.go" \
	>"$work/sntp.log" 2>&1 &

# The list on flash is two days old (fault 3): serial 2, created then.
"$hub" build --key "$work/hub/hub.key" --region lab --serial 2 --created $(($(date +%s) - 2 * 86400 - 60)) \
	--out "$work/old.bundle" domains:"$work/sni.txt",rule=101 >/dev/null || fail "build of the old bundle"
"$tg" bundle install "$work/old.bundle" -c "$work/gw.ini" | grep -q '^accepted' || fail "install of the old bundle"
"$hub" build --key "$work/hub/hub.key" --region lab --serial 3 --out "$work/new.bundle" \
	domains:"$work/sni.txt",rule=101 >/dev/null || fail "build of the new bundle"

# The data partition: a small tmpfs of its own, so it can be filled (fault 8).
mv "$work/data" "$work/data.0" && mkdir "$work/data" && mount -t tmpfs -o size=16m tmpfs "$work/data" &&
	cp -a "$work/data.0/." "$work/data/" || fail "cannot put the data directory on a tmpfs"

# An expired gateway certificate (fault 7), made by openssl.
mkdir -p "$work/old" && "$top/tests/lab/dated_cert.sh" "$work/old" ca >/dev/null 2>&1 &&
	"$top/tests/lab/dated_cert.sh" "$work/old" gw 20200101000000Z 20210101000000Z >/dev/null 2>&1 ||
	fail "openssl: no expired certificate"
cp "$work/data/keys/gw.crt" "$work/gw.crt.good"

wan() { echo "ip netns exec $NS_WAN $*"; }
cat >"$work/session" <<EOF
# the first login sets the technician password
? New password:
> diag-lab-pass
? New password again:
> diag-lab-pass
? Password set.
? PROBLEM:
? gw-lab>
> diag
? no DHCP answer: the gateway has no address of its own
? PROBLEM:
> status
? PROBLEM: no DHCP answer
# 2. DHCP answers; SNTP still silent
! $(wan dnsmasq --no-daemon --port=0 --user=root --interface=eth0 --bind-interfaces \
	--dhcp-range=10.99.0.100,10.99.0.149,255.255.255.0,1h --dhcp-leasefile="$work/leases") >"$work/dhcp.log" 2>&1 & disown
> diag
?? the time is not set: no answer from the time server
# 3. the time comes, the uplink connects; the list is stale
! touch "$work/sntp.go"
> diag
?? [ OK ] broker
? is 2d 00h old, more than 1d 00h
# 4. the hub publishes a fresh list
! $(wan "$hub" publish ${HUB[*]} "$work/new.bundle") >"$work/publish.log" 2>&1
> diag
?? OK: every check passed
> status
? OK
> dns allowed.test
? allowed.test is $ALLOWED_IP
> dns nowhere.test
? nowhere.test: no answer from the DNS server
> ping $DNS_IP
? reply from $DNS_IP: seq 1
? $DNS_IP: 3 of 3 answered
# 5. the WAN cable
! $(wan ip link set eth0 down)
> diag
?? WAN port has no link
? check the cable to the ISP router (port tg-wan)
! $(wan ip link set eth0 up)
> diag
?? OK: every check passed
# 6. the broker
! kill \$(cat "$work/broker.pid")
> diag
?? the hub's broker $DNS_IP:8883 does not answer
! $(wan "$MOSQUITTO" -c "$work/pki/broker/mosquitto.conf") >>"$work/broker.log" 2>&1 & disown
> diag
?? OK: every check passed
# 7. the certificate
! cp "$work/old/gw.crt" "$work/data/keys/gw.crt"
> diag
? gateway certificate expired on 2021-01-01
! cp "$work/gw.crt.good" "$work/data/keys/gw.crt"
> diag
? OK: every check passed
# 8. the flash
! fallocate -l \$(( (\$(df --output=avail -k "$work/data" | tail -n 1) - 256) * 1024 )) "$work/data/filler"
> diag
? flash almost full:
? delete old captures
! rm "$work/data/filler"
> diag
? OK: every check passed
# in Traditional Chinese
> lang zh_TW
? 從現在起訊息以繁體中文顯示。
! cp "$work/old/gw.crt" "$work/data/keys/gw.crt"
> diag
? 閘道器憑證已於 2021-01-01 過期
! cp "$work/gw.crt.good" "$work/data/keys/gw.crt"
> lang en
> logout
? Logged out.
EOF

# The broker's pid, for fault 6 (hub_lab_up started it in the background).
pid_of "$NS_WAN" "$work/pki/broker/mosquitto.conf" >"$work/broker.pid" || fail "no broker process"
t0=$(date +%s)
WAIT_S=20 /usr/bin/python3 "$top/tests/console/pty_session.py" "$work/session" "$work/transcript" -- \
	bash -c "TOWNGUARD_LOCALEDIR=$top/${BUILD:-build}/locale exec ip netns exec $NS_GW $tg run -c $work/gw.ini \
		-o console.device=@PTY@ -o mgmt.dns=$DNS_IP 2>$work/tg.log" ||
	{ show_log "$work/transcript" 60; fail "the console session did not go as scripted"; }
echo "ok: diag named each fault over the console and said OK in between ($(($(date +%s) - t0)) s)"
grep -q 'console: technician password set' "$work/tg.log" || fail "the password setting was not logged"
grep -c '^\[FAIL\]' "$work/transcript" | grep -qv '^0$' || fail "no [FAIL] line in the transcript"
echo "ok: $(grep -c 'OK: every check passed' "$work/transcript") clean diag runs"
