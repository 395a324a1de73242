#!/usr/bin/env bash
# 1 MB of random bytes on the console while townguard bridges: no crash, the
# packet path keeps forwarding (HTTPS fetches through the bridge during the
# junk all succeed), and the console answers afterwards.
#
#   ns LAN ── tg-lan [townguard run, bridge] tg-wan ── ns WAN (allowed.test)
#                  └─ [console] device = /dev/pts/N ── pty_session.py: junk 1048576
#
# The junk reaches the login prompt, so its lines count as wrong passwords:
# the lockout takes over after three, and no further line costs a yescrypt
# check (the console refuses them unread).
set -uo pipefail
MODE=bridge
LAB_PREFIX=tgC
. "${TOP:-.}/tests/lab/inline_checks.sh"

inline_setup
echo technician-1 | "$tg" passwd -c "$work/gw.ini" 2>/dev/null || fail "townguard passwd"
: >"$work/tg.log"
JUNK_DIR=$work /usr/bin/python3 "$top/tests/console/pty_session.py" "$top/tests/console/junk.script" "$work/junk.screen" -- \
	ip netns exec "$NS_GW" "$tg" run -c "$work/gw.ini" -o console.device=@PTY@ \
	>"$work/flows.json" 2>"$work/tg.log" &
sess=$!
wait_log "$work/tg.log" 'running: mode' 10
grep -q "running: mode bridge" "$work/tg.log" || fail "townguard did not start"
wait_for 5 ip netns exec "$NS_LAN" ping -c 1 -W 0.2 "$ALLOWED_IP" >/dev/null 2>&1 ||
	fail "no ping through the gateway"
ok=0 bad=0
# Fetches until the junk is in, and one after.
while kill -0 "$sess" 2>/dev/null; do
	[ -e "$work/junked" ] && last=1 || last=0
	if lan curl -sS -o /dev/null --max-time 10 --cacert "$CA" --resolve "allowed.test:443:$ALLOWED_IP" \
		https://allowed.test/ 2>>"$work/curl.err"; then
		ok=$((ok + 1))
	else
		bad=$((bad + 1))
	fi
	[ "$last" = 1 ] && break
	sleep 0.2
done
touch "$work/done"
wait "$sess"
rc=$?
[ "$rc" = 0 ] || fail "the console session failed (exit $rc): $(tail -n 5 "$work/tg.log")"
echo "junk: $ok fetches through the bridge during it and after, $bad failed"
[ "$bad" = 0 ] || fail "$bad fetches failed while the console took junk: $(tail -n 3 "$work/curl.err")"
[ "$ok" -ge 2 ] || fail "no fetch ran while the console took junk"
# pty_session waited for the answer to the ^C after the junk; its screen ends
# with it: the ^C echoed, then a fresh prompt. Between them may stand the
# notice of output the console dropped while the junk's echo outran the
# terminal (a slow reader, e.g. under the sanitizers): counted, by design.
last=$(tail -n 1 "$work/junk.screen") prev=$(tail -n 2 "$work/junk.screen" | head -n 1)
[[ "$prev" =~ ^\[[0-9]+\ bytes\ of\ output\ dropped:\ the\ terminal\ was\ not\ reading\]$ ]] &&
	prev=$(tail -n 3 "$work/junk.screen" | head -n 1)
[ "$last" = "Password:" ] && [[ "$prev" == *'^C' ]] ||
	fail "the console did not answer after the junk: $(tail -n 3 "$work/junk.screen")"
grep -q 'stopped:' "$work/tg.log" || fail "no clean stop"
grep -q 'console: wrong password (3 in a row): locked' "$work/tg.log" || fail "the junk did not meet the lockout"
checks=$(grep -c 'console: wrong password' "$work/tg.log")
[ "$checks" -le 40 ] || fail "$checks passwords checked: the lockout did not hold the junk back"
echo "ok: 1 MB of junk: $checks lines checked as passwords, the rest refused by the lockout; the console answered"
