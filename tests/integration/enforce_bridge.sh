#!/usr/bin/env bash
# Bridge mode in the lab (tests/lab): townguard bridges tg-lan and tg-wan in
# userspace with a bundle from tg-hub on its flash. Allowed HTTPS and HTTP
# pass byte-identical; a blocked name gets NXDOMAIN from the gateway; a
# blocked SNI, HTTP Host, address and DNS-bound name each fail at the first try;
# a capture on the WAN side holds no ClientHello or request for a blocked
# name. Then SIGHUP with a new bundle on flash: the newly blocked name is
# enforced without a restart; then a WAN link flap is logged and survived.
set -uo pipefail
MODE=bridge
. "${TOP:-.}/tests/lab/inline_checks.sh"

inline_setup
inline_start
wan_capture_start
check_allowed
check_blocked
check_block_logged_once
wan_capture_stop
check_wan_capture

# SIGHUP: serial 2 also blocks allowed.test; the gateway picks it up from flash.
echo allowed.test >>"$work/sni.txt"
"$hub" build --key "$work/hub/hub.key" --region lab --serial 2 --out "$work/lab2.bundle" \
	domains:"$work/sni.txt",rule=101 domains:"$work/host.txt",rule=102 \
	domains:"$work/bound.txt",rule=103 cidr:"$work/addr.txt",rule=104 >/dev/null
"$tg" bundle install "$work/lab2.bundle" -c "$work/gw.ini" | grep -q '^accepted' || fail "install serial 2"
kill -HUP "$tgpid"
wait_log "$work/tg.log" 'blocklist in force: .*serial 2' 5
grep -q 'blocklist in force: .*serial 2' "$work/tg.log" || fail "SIGHUP did not load serial 2"
expect_fast_failure "newly blocked SNI after SIGHUP" allowed.test 443 https "$ALLOWED_IP"

# A WAN link flap: logged both ways, and the bridge forwards again after it.
ip -n "$NS_GW" link set tg-wan down; sleep 0.3; ip -n "$NS_GW" link set tg-wan up
up_after_down() { sed -n '/tg-wan: link down/,$p' "$work/tg.log" | grep -q 'tg-wan: link up'; }
wait_for 3 up_after_down
grep -q 'link\] warn: tg-wan: link down' "$work/tg.log" || fail "link down not logged"
up_after_down || fail "link up not logged"
# (serial 2 blocks allowed.test by name; a Host on no list, to the HTTP server)
lan curl -sS --max-time 5 --resolve "ip-free.test:80:$HTTPBLOCK_IP" http://ip-free.test/ >/dev/null ||
	fail "no forwarding after the link flap"
echo "ok: link flap logged, forwarding resumed"

# SIGHUP with a broken file changes nothing; with a good one, [enforce]
# applies at once and a mode change waits for the next start.
cp "$work/gw.ini" "$work/gw.ini.good"
printf '[enforce]\ndns_ttl = soon\n' >>"$work/gw.ini"
kill -HUP "$tgpid"
wait_log "$work/tg.log" 'reload: the configuration has errors' 5
grep -q 'dns_ttl = "soon": not a whole number' "$work/tg.log" || fail "bad reload not explained"
sed 's/^mode = bridge/mode = nfqueue/' "$work/gw.ini.good" >"$work/gw.ini"
printf '[enforce]\ndns_sink_ipv4 = 10.99.0.99\n' >>"$work/gw.ini"
kill -HUP "$tgpid"
wait_log "$work/tg.log" 'reload: configuration in force' 5
grep -q 'reload: \[gateway.mode\] changed: takes effect at the next start' "$work/tg.log" ||
	fail "mode change on reload not reported"
out=$(lan dig +short +tries=1 +time=2 @"$DNS_IP" blocked.test A)
[ "$out" = 10.99.0.99 ] || fail "sink address after reload: got '$out'"
echo "ok: SIGHUP: bad file refused, sink address live, mode change deferred"

inline_stop
grep -q 'stopped: [1-9][0-9]* blocks of a flow already logged as blocked' "$work/tg.log" ||
	fail "the SYNs sent again are not in the stop totals"
echo "PASS"
