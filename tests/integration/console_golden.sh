#!/usr/bin/env bash
# The technician console over a pty, as a terminal drives it: bytes in,
# screen out, compared with tests/golden/console/NAME.screen for every
# tests/console/NAME.script (tests/console/pty_session.py plays them):
#
#   first_login     no password yet: chosen (refusals), login, passwd
#   commands        help, ?, prefixes, refusals, Tab, history, the editor's keys,
#                   status, and each command's refusal of a bad value
#   config          set (the file's checks), diff, commit, confirm, auto-revert
#   lockout         three wrong passwords lock; the lock grows
#   lockout_reboot  ... and survives a restart
#   idle            idle logout; SIGSEGV restores the terminal's settings
#   reboot          a clean stop
#   reset           factory-reset: the word asked, then the settings and password erased
#
#   townguard run (monitor on lo) ── [console] device = /dev/pts/N ── pty master: pty_session.py
#
# Every run also checks that the pty's settings after townguard are those
# before it (raw mode restored at SIGTERM, and at SIGSEGV in idle).
# GOLDEN_UPDATE=1 rewrites the golden files.
set -euo pipefail
top=${TOP:-.}
. "$top/tests/lib.sh"
build=$(cd "$top" && pwd)/${BUILD:-build}
golden=$top/tests/golden/console
make_work
on_fail() { for f in "$work"/*.err; do show_log "$f" 30; done; }

# session NAME DIR [RC]: play NAME's script against a townguard with data in DIR.
session() {
	local name=$1 dir=$2 want=${3:-0} rc=0
	/usr/bin/python3 "$top/tests/console/pty_session.py" "$top/tests/console/$name.script" \
		"$work/$name.raw" -- "$build/townguard" run -c "$dir/gw.ini" -o console.device=@PTY@ \
		>/dev/null 2>"$work/$name.err" || rc=$?
	if [ "$want" = any ]; then
		[ "$rc" != 0 ] || fail "$name: townguard exited 0, expected a crash"
	elif [ "$rc" != "$want" ]; then
		fail "$name: exit $rc, expected $want"
	fi
	# The data directory's path and a countdown (its seconds depend on the machine's speed).
	# The login's status block: the uptime and the counters of traffic on lo vary.
	sed -e "s|$dir|@DATA@|g" -e 's/try again in [0-9]* s/try again in N s/' \
		-e 's/  up [0-9][0-9dhms ]*$/  up T/' -e '/^\(flows\|blocks\|spool\)  /s/[0-9][0-9]*/N/g' \
		"$work/$name.raw" >"$work/$name.screen"
	if [ "${GOLDEN_UPDATE:-0}" = 1 ]; then
		cp "$work/$name.screen" "$golden/$name.screen"
	fi
	diff -u "$golden/$name.screen" "$work/$name.screen" || fail "$name: the screen differs from $golden/$name.screen"
	echo "ok: $name"
}

# box NAME [PASSWORD]: a data directory with a configuration (and a password).
box() {
	local dir=$work/$1
	mkdir -p "$dir"
	cat >"$dir/gw.ini" <<-INI
	[gateway]
	id = gw-test
	data_dir = $dir
	mode = monitor
	[capture]
	interface = lo
	[console]
	idle_logout = ${IDLE:-600}
	confirm_timeout = 5
	INI
	if [ -n "${2:-}" ]; then
		echo "$2" | "$build/townguard" passwd -c "$dir/gw.ini" 2>"$work/$1.passwd.err" ||
			fail "townguard passwd failed"
	fi
	echo "$dir"
}

dir=$(box first)
session first_login "$dir"
[ "$(head -c 3 "$dir/console.passwd")" = '$y$' ] || fail "the password is not stored as a yescrypt hash"
must_log() { grep -q -- "$2" "$1" || fail "$1 lacks: $2"; }
must_log "$work/first_login.err" "console: technician password set"
must_log "$work/first_login.err" "console: technician password changed"
must_log "$work/first_login.err" "console: wrong password (1 in a row)"
must_log "$work/first_login.err" "console: technician logged in"
# ... and each event is an alert to the SOC, in the spool until the uplink takes it.
for ev in '"event":"passwd","detail":"set"' '"event":"login_failed"' '"event":"login"' '"event":"logout"'; do
	grep -aqF "$ev" "$dir"/spool/alert-*.seg || fail "no console alert $ev in the spool"
done

dir=$(box commands technician-1)
session commands "$dir"

dir=$(box config technician-1)
session config "$dir"
# Confirmed: the file holds log.level = warn; the reverted commit (dns_ttl 9, lan eth9) left
# no trace; the previous file is kept.
grep -qx 'level = warn' "$dir/gw.ini" || fail "config confirm did not save log.level = warn"
grep -qx 'dns_ttl = 60' "$dir/gw.ini" || fail "a reverted commit reached the file"
grep -qx 'lan =' "$dir/gw.ini" || fail "a reverted commit reached the file"
grep -qx 'mode = monitor' "$dir/gw.ini.prev" || fail "the previous configuration was not kept"
# The command line's options stay out of the file.
! grep -q 'pts' "$dir/gw.ini" || fail "the console's -o device went into the file"
must_log "$work/config.err" "console: commit reverted: not confirmed within 5 s"

dir=$(box lockout technician-1)
session lockout "$dir"
[ "$(cat "$dir/console.lockout")" = "failures 4" ] || fail "lockout: $(cat "$dir/console.lockout")"
session lockout_reboot "$dir"

dir=$(IDLE=2 box idle technician-1)
session idle "$dir" any
must_log "$work/idle.err" "console: technician logged out (idle)"

dir=$(box reboot technician-1)
session reboot "$dir"
must_log "$work/reboot.err" "reboot: the firmware stopped"

dir=$(box reset technician-1)
touch "$dir/inventory"
printf '[log]\nlevel = debug\n' >>"$dir/gw.ini"
session reset "$dir"
for f in console.passwd console.lockout inventory; do
	[ ! -e "$dir/$f" ] || fail "factory-reset left $f"
done
grep -qx 'id = gw-test' "$dir/gw.ini" || fail "factory-reset lost the gateway id"
grep -qx 'idle_logout = 600' "$dir/gw.ini" && grep -qx 'level = info' "$dir/gw.ini" ||
	fail "factory-reset did not write the defaults"
