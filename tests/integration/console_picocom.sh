#!/usr/bin/env bash
# A real terminal program on the console: picocom, in a tmux pane of 80x24,
# on one end of a pty pair that socat makes; townguard's console on the other.
#
#   tmux pane: picocom -b 115200 tty1 ── socat pty pair ── tty0: townguard run ([console] device)
#
# The technician logs in, asks for help, completes a command with Tab and
# changes a setting as a person would type it; the pane must show each
# answer. tmux's screen is what the technician sees (capture-pane; it drops
# trailing blanks, so a prompt is looked for without its space).
set -euo pipefail
top=${TOP:-.}
. "$top/tests/lib.sh"
build=$(cd "$top" && pwd)/${BUILD:-build}
for t in picocom tmux socat; do
	command -v "$t" >/dev/null || { echo "skipped: $t is not installed (tools/install-deps)"; exit 77; }
done
make_work
sock=tgC-picocom-$$
on_fail() {
	echo "--- the pane"; tmux -L "$sock" capture-pane -p -t tg 2>/dev/null || true
	show_log "$work/townguard.log" 30; show_log "$work/socat.log" 10
}
on_exit() { tmux -L "$sock" kill-server 2>/dev/null || true; }

socat -d -d "pty,raw,echo=0,link=$work/tty0" "pty,raw,echo=0,link=$work/tty1" 2>"$work/socat.log" &
started $!
wait_for 5 test -e "$work/tty1" || fail "socat made no pty pair"

cat >"$work/gw.ini" <<INI
[gateway]
id = gw-pico
data_dir = $work
mode = monitor
[capture]
interface = lo
[console]
device = $work/tty0
INI
echo technician-1 | "$build/townguard" passwd -c "$work/gw.ini" 2>/dev/null
"$build/townguard" run -c "$work/gw.ini" 2>"$work/townguard.log" >/dev/null &
started $!
wait_for 10 grep -q "console on $work/tty0" "$work/townguard.log" || fail "townguard opened no console"

tmux -L "$sock" -f /dev/null new-session -d -s tg -x 80 -y 24 "picocom -b 115200 $work/tty1"
pane() { tmux -L "$sock" capture-pane -p -t tg; }
shows() { pane | grep -qF -- "$1"; }
# see TEXT: the pane shows TEXT within 10 s.
see() { wait_for 10 shows "$1" || fail "the pane never showed: $1"; }
keys() { tmux -L "$sock" send-keys -t tg "$@"; }

# The login prompt was printed before picocom opened its end: Enter asks again.
see "Terminal ready"
keys Enter
see "Password:"
keys "technician-1" Enter
see "gw-pico>"  # (capture-pane drops trailing blanks)
keys "help" Enter
see "factory-reset  erase the settings"
keys "conf" Tab "set log.le" Tab "debug" Enter
see "log.level set to debug: not in force until config commit."
keys "config diff" Enter
see "log.level: info -> debug"
keys "logout" Enter
see "Logged out."
# The password never appears on the screen.
! pane | grep -q "technician-1" || fail "the password was echoed"
echo "ok: picocom in tmux: login, help, Tab, config set, logout"
