# shellcheck shell=bash
# What the shell tests share (sourced, never run): failing with the logs that
# explain it, running a command that must exit with a given status, polling a
# condition with a timeout, a work directory removed at exit with the
# processes the script started, and the arithmetic the benchmarks print.
#
#   top=...; . "$top/tests/lib.sh"
#
# A script that has logs to show when it fails defines on_fail (its output
# goes to stderr); one that has more to undo at exit than its work directory
# and the processes it named with `started` defines on_exit. Nothing here
# runs at source time.

# fail MSG...: "FAIL: MSG" (after FAIL_PREFIX, e.g. "bench: "), on_fail's logs, exit 1.
fail() {
	echo "${FAIL_PREFIX:-}FAIL: $*" >&2
	if declare -F on_fail >/dev/null; then on_fail >&2; fi
	exit 1
}

# show_log FILE [LINES]: "--- FILE" and its last LINES lines (all without), if it has any.
show_log() {
	[ -s "$1" ] || return 0
	echo "--- $1${2:+ (last $2 lines)}"
	if [ -n "${2:-}" ]; then tail -n "$2" "$1"; else cat "$1"; fi
}

# run N CMD...: run CMD, expect exit status N; stdout in ./out, stderr in ./err.
run() {
	local want=$1 rc=0
	shift
	"$@" >out 2>err || rc=$?
	if [ "$rc" != "$want" ]; then
		echo "--- stdout" >&2 && cat out >&2
		echo "--- stderr" >&2 && cat err >&2
		fail "exit $rc, expected $want: $*"
	fi
}

# has FILE TEXT: FILE holds TEXT (fixed string).
has() { grep -qF -- "$2" "$1" || fail "$1 lacks: $2"; }

# expect WHAT WANT GOT
expect() {
	[ "$2" = "$3" ] || fail "$1: want [$2], got [$3]"
	echo "ok: $1"
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds (0) or
# SECONDS (tenths at most: 2.5) have gone by (1).
wait_for() {
	local tries
	case $1 in
	*.*) tries=$((${1%.*} * 10 + ${1#*.})) ;;
	*) tries=$(($1 * 10)) ;;
	esac
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		tries=$((tries - 1))
		sleep 0.1
	done
	return 1
}

# log_has FILE REGEX: FILE (which may not exist yet) has a line matching the extended REGEX.
log_has() { grep -Eq -- "$2" "$1" 2>/dev/null; }

# wait_log FILE REGEX SECONDS: until FILE has a line matching REGEX (0), or 1.
wait_log() { wait_for "$3" log_has "$1" "$2"; }

# must_log FILE REGEX [SECONDS]: wait_log, failing the test when the line does not come (5 s).
must_log() {
	wait_log "$1" "$2" "${3:-5}" || fail "$1: no \"$2\" within ${3:-5} s"
}

# free_port: a TCP port nobody listens on now on 127.0.0.1 (a server takes it a moment later).
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 40000))
}

# listening PORT: something listens on TCP port PORT here.
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# alive PID: the process runs. A zombie counts as gone: whoever reaps it
# (init, in a container maybe a slow one) may take its time, and it holds
# no socket or namespace.
alive() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# stop_pids SECONDS PID...: SIGTERM, SECONDS for them to exit on their own, then SIGKILL.
stop_pids() {
	local secs=$1 left=() p
	shift
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null || true
	for _ in $(seq $((secs * 10))); do
		left=()
		for p in "$@"; do alive "$p" && left+=("$p"); done
		[ ${#left[@]} -eq 0 ] && return 0
		sleep 0.1
	done
	kill -KILL "${left[@]}" 2>/dev/null || true
	sleep 0.1
}

# make_work [NAME]: $work is a new directory (/tmp/NAME.XXXXXX with a NAME);
# at exit the processes named with `started` are killed by id and reaped,
# on_exit runs, and $work is removed.
lib_pids=()
# shellcheck disable=SC2120 # NAME is optional
make_work() {
	work=$(mktemp -d ${1:+"/tmp/$1.XXXXXX"})
	trap lib_exit EXIT
}

# replay_setup: the start of a test that replays the shared captures with a
# bundle of its own: $pcaps (../shared/pcaps, or $SHARED/pcaps; the test is
# skipped, exit 77, without them), $build, a fresh $work (make_work) as the
# working directory, and a hub key pair in keys/ (tg-hub keygen).
replay_setup() {
	pcaps=${SHARED:-${TOP:-.}/../shared}/pcaps
	if [ ! -d "$pcaps/expected" ]; then
		echo "skipped: no shared captures at $pcaps"
		exit 77
	fi
	pcaps=$(cd "$pcaps" && pwd)
	build=$(cd "${TOP:-.}" && pwd)/${BUILD:-build}
	make_work
	cd "$work" || fail "cannot enter $work"
	"$build/tg-hub" keygen --out keys >/dev/null || fail "tg-hub keygen failed"
}

# started PID: kill PID at exit (make_work).
started() { lib_pids+=("$1"); }

lib_exit() {
	local p
	for p in "${lib_pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${lib_pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if declare -F on_exit >/dev/null; then on_exit; fi
	rm -rf "$work"
}

# calc EXPR [FORMAT]: awk arithmetic, printed with FORMAT (%.0f).
calc() { awk "BEGIN { printf \"${2:-%.0f}\", ($1) }"; }

# raw LINE...: append to the benchmark's $results file.
# shellcheck disable=SC2154 # results is the caller's
raw() { echo "$*" >>"$results"; }
