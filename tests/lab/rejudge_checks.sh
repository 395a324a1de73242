# A new blocklist applies to open flows (issue 10, item 1): shared by
# tests/integration/rejudge_bridge.sh and rejudge_nfqueue.sh (sourced; the
# caller sets MODE). Built on inline_checks.sh's lab, bundle and gateway.
#
# Three HTTPS downloads of the lab's 4 MiB file, read slowly so they last
# seconds (tests/lab/slow_get.py), are open while three bundles are swapped
# in, each by `townguard bundle install` and SIGHUP:
#
#   download    name, address                  cut by
#   keep        allowed.test, 10.99.0.2        nothing: byte-identical across all three swaps
#   by-address  allowed.test, 10.99.0.5        serial 2: 10.99.0.5/32 (rule 105)
#   by-name     alias.test, 10.99.0.4 (pinned) serial 3: alias.test (rule 106)
#   (serial 4 lifts nothing and adds nothing the downloads use)
#
# A cut download's connection must be reset within 1 s of the SIGHUP, the
# download must end in error short of the whole file, and the gateway must
# log the cut once, naming the rule.

. "${TOP:-.}/tests/lab/inline_checks.sh"

RATE=${RATE:-300000}    # bytes/s: 4 MiB in about 14 s (the cut ones stop long before)

# download NAME HOST ADDR: a slow HTTPS download in the background
# (tests/lab/slow_get.py: paced reads, a small receive buffer).
download() {
	( lan /usr/bin/python3 "$top/tests/lab/slow_get.py" "$2" "$3" "$CA" "$work/$1.bin" "$RATE" \
		2>"$work/$1.err"
	  echo "$? $(date +%s.%N)" >"$work/$1.done" ) &
}

# swap SERIAL EXTRA...: build, install and SIGHUP serial SERIAL (serial 1's
# lists plus EXTRA); sets swapped_at to when the signal was sent.
swap() {
	local serial=$1; shift
	"$hub" build --key "$work/hub/hub.key" --region lab --serial "$serial" --out "$work/s$serial.bundle" \
		domains:"$work/sni.txt",rule=101 domains:"$work/host.txt",rule=102 \
		domains:"$work/bound.txt",rule=103 cidr:"$work/addr.txt",rule=104 "$@" >/dev/null ||
		fail "build serial $serial"
	"$tg" bundle install "$work/s$serial.bundle" -c "$work/gw.ini" | grep -q '^accepted' ||
		fail "install serial $serial"
	swapped_at=$(date +%s.%N)
	kill -HUP "$tgpid"
	wait_log "$work/tg.log" "blocklist in force: .*serial $serial" 5 || fail "serial $serial not in force"
}

# expect_cut NAME ADDR WHAT: the client's connection to ADDR:443 was reset
# within 1 s of the last swap (its socket left ESTABLISHED: the kernel's
# view, not the reader's, which may be sleeping between reads), and the
# download then ended in error, short of the whole file.
expect_cut() {
	local rc at size closed_at
	conn_open() { lan ss -Htn state established dst "$1" dport = :443 | grep -q .; }
	while conn_open "$2"; do
		awk -v s="$swapped_at" -v n="$(date +%s.%N)" 'BEGIN { exit !(n - s < 3) }' ||
			fail "$3: the connection is still open 3 s after the swap"
		sleep 0.02
	done
	closed_at=$(date +%s.%N)
	awk -v a="$closed_at" -v s="$swapped_at" 'BEGIN { exit !(a - s < 1.0) }' ||
		fail "$3: cut $(calc "$closed_at - $swapped_at" %.3f) s after the swap, not within 1 s"
	wait_for 5 test -s "$work/$1.done" || fail "$3: the reader still running 5 s after the cut"
	read -r rc at <"$work/$1.done"
	size=$(stat -c %s "$work/$1.bin" 2>/dev/null || echo 0)
	[ "$rc" != 0 ] || fail "$3: the download completed ($size bytes)"
	grep -q 'ConnectionResetError' "$work/$1.err" || fail "$3: not ended by a reset: $(cat "$work/$1.err")"
	[ "$size" -lt "$FILE_SIZE" ] || fail "$3: the whole file arrived"
	echo "ok: $3: connection reset $(calc "$closed_at - $swapped_at" %.3f) s after the swap" \
		"($size of $FILE_SIZE bytes: $(head -c 100 "$work/$1.err"))"
}

# expect_logged_once PATTERN: exactly one log line matches.
expect_logged_once() {
	local n
	n=$(grep -c -- "$1" "$work/tg.log")
	[ "$n" = 1 ] || fail "expected one log line matching '$1', got $n"
}

# keep_running WHEN: the allowed download is still under way after a swap.
keep_running() {
	[ -s "$work/keep.done" ] || return 0
	fail "the allowed download ended by $1: $(cat "$work/keep.done"), $(stat -c %s "$work/keep.bin") bytes: $(cat "$work/keep.err")"
}

# expect_kept WHEN SECONDS: the allowed download (keep) ends within SECONDS,
# whole and byte-identical.
expect_kept() {
	local rc sum
	wait_for "$2" test -s "$work/keep.done" || fail "the allowed download did not finish"
	read -r rc _ <"$work/keep.done"
	[ "$rc" = 0 ] || fail "the allowed download failed: $(cat "$work/keep.err")"
	sum=$(sha256sum <"$work/keep.bin" | cut -d' ' -f1)
	[ "$sum" = "$FILE_SHA256" ] || fail "the allowed download differs $1 ($sum)"
	echo "ok: allowed download open $1, byte-identical"
}

# downloads_start: the three downloads of the table above, under way (bytes arriving).
downloads_start() {
	download keep allowed.test "$ALLOWED_IP"
	download byaddr allowed.test "$HTTPBLOCK_IP"
	download byname alias.test "$BOUND_IP"
	for d in keep byaddr byname; do
		wait_for 3 test -s "$work/$d.bin" || fail "download $d did not start: $(cat "$work/$d.err")"
	done
}

rejudge_checks() {
	# All three under way before the first swap.
	downloads_start
	sleep 0.5

	echo "$HTTPBLOCK_IP/32" >"$work/addr2.txt"
	swap 2 cidr:"$work/addr2.txt",rule=105
	expect_cut byaddr "$HTTPBLOCK_IP" "open download, address blocked by serial 2"
	expect_logged_once "cut $CLIENT_IP:[0-9]* -> $HTTPBLOCK_IP:443 (tcp) at ip \"$HTTPBLOCK_IP/32\" (rule 105)"
	[ ! -s "$work/byname.done" ] || fail "serial 2 ended the download it does not block"
	keep_running "serial 2"

	sleep 0.5
	echo alias.test >"$work/name3.txt"
	swap 3 cidr:"$work/addr2.txt",rule=105 domains:"$work/name3.txt",rule=106
	expect_cut byname "$BOUND_IP" "open download, name blocked by serial 3"
	expect_logged_once "cut $CLIENT_IP:[0-9]* -> $BOUND_IP:443 (tcp) at sni \"alias.test\" (rule 106)"
	keep_running "serial 3"

	sleep 0.5
	echo unused.test >"$work/name4.txt"
	swap 4 cidr:"$work/addr2.txt",rule=105 domains:"$work/name3.txt",rule=106 \
		domains:"$work/name4.txt",rule=107
	keep_running "serial 4"

	expect_kept "across three swaps" 30

	# Each swap judged the open flows again and said so.
	[ "$(grep -c 'new blocklist: [0-9]* open flows judged again' "$work/tg.log")" -ge 3 ] ||
		fail "the swaps did not report judging the open flows"
	grep 'new blocklist:' "$work/tg.log" | sed 's/^/  /'
}
