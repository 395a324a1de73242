# shellcheck shell=bash
# What the image tests share (sourced after tests/lib.sh and make_work): a
# board image booted in QEMU (tools/qemu-run) with its console, the debug
# shell (tg.debug=1, image.conf DEBUG_SERIAL) and townguard's log as the init
# follows it (DEBUG_LOG) on FIFOs, their output appended to $work/console.log,
# $work/debug.log and $work/tg.log. townguard logs to its file on the data
# partition, not the console: its lines are looked for in tg.log.
#
#   vm_image BOARD         $img = build/BOARD (make test-images), or skip (77)
#   vm_start [ARGS...]     boot it (ARGS to tools/qemu-run: --append, --net ...)
#   vm_wait REGEX SECONDS  until console.log has a line matching REGEX, from now on
#   vm_logwait REGEX SECONDS  the same in tg.log (townguard's log lines)
#   vm_sh CMD              run CMD in the debug shell; its output in $work/sh.out, status returned
#   vm_key TEXT            type TEXT on the console
#   vm_kill                SIGKILL QEMU (a power cut)
#   vm_mkdata DIR FILE     FILE: a data partition (ext4, image.conf DATA_SIZE_MB) holding DIR
# VM_EXEC: a prefix for QEMU (ip netns exec NS: the lab's gateway namespace).
# A boot under TCG takes ~10 s on an idle 2-core machine; the waits allow 10x.
VM_BOOT_S=${VM_BOOT_S:-120}
VM_PASSWORD=tg-image-test-1
# vm_sh's commands are numbered across boots: debug.log keeps every boot's markers.
vm_n=0

vm_image() {
	img=$TOP/build/$1
	if [ ! -f "$img/rootfs.squashfs" ] || [ ! -f "$img/image.conf" ]; then
		echo "skipped: no image in $img (make test-images; tools/install-deps caches its inputs)"
		exit 77
	fi
	command -v qemu-system-x86_64 >/dev/null || { echo "skipped: no QEMU"; exit 77; }
	cp "$img/data.ext4" "$work/data.ext4"
	img_data=$work/data.ext4
	# shellcheck source=/dev/null
	data_mb=$(. "$img/image.conf" && echo "$DATA_SIZE_MB")
	: >"$work/console.log"
	: >"$work/debug.log"
	: >"$work/tg.log"
}

vm_start() {
	local f
	for f in con dbg log; do
		rm -f "$work/$f.in" "$work/$f.out"
		mkfifo "$work/$f.in" "$work/$f.out"
	done
	${VM_EXEC:-} "$TOP/tools/qemu-run" "$img" --console "pipe:$work/con" --debug "pipe:$work/dbg" \
		--log "pipe:$work/log" --data "$img_data" --pidfile "$work/qemu.pid" "$@" >>"$work/qemu.log" 2>&1 &
	vm_pid=$!
	started "$vm_pid"
	# Readers and writers held open (read-write: opening never blocks) for the VM's life
	# (vm_log only held: nothing is typed into the log's port).
	# shellcheck disable=SC2034
	exec {vm_con}<>"$work/con.in" {vm_dbg}<>"$work/dbg.in" {vm_log}<>"$work/log.in"
	cat "$work/con.out" >>"$work/console.log" &
	started $!
	cat "$work/dbg.out" >>"$work/debug.log" &
	started $!
	cat "$work/log.out" >>"$work/tg.log" &
	started $!
	vm_mark=$(wc -l <"$work/console.log" 2>/dev/null || echo 0)
	vm_logmark=$(wc -l <"$work/tg.log" 2>/dev/null || echo 0)
}

# console lines after the last vm_wait (or vm_start)
vm_new() { tail -n +"$((vm_mark + 1))" "$work/console.log" 2>/dev/null; }
vm_has() { vm_new | grep -Eq -- "$1"; }
vm_wait() {
	wait_for "$2" vm_has "$1" || return 1
	vm_mark=$(($(vm_new | grep -En -- "$1" | head -n 1 | cut -d: -f1) + vm_mark))
}
# the same for tg.log: townguard's lines after the last vm_logwait (or vm_start)
vm_lognew() { tail -n +"$((vm_logmark + 1))" "$work/tg.log" 2>/dev/null; }
vm_loghas() { vm_lognew | grep -Eq -- "$1"; }
vm_logwait() {
	wait_for "$2" vm_loghas "$1" || return 1
	vm_logmark=$(($(vm_lognew | grep -En -- "$1" | head -n 1 | cut -d: -f1) + vm_logmark))
}
must_boot() { # must_boot [WHAT]: the VM reaches townguard's running line
	vm_logwait 'info: running: mode' "$VM_BOOT_S" || fail "no townguard running line ${1:-at boot} within $VM_BOOT_S s"
}

vm_key() { printf '%s' "$1" >&"$vm_con"; }
# vm_login: the console's login (password $VM_PASSWORD) up to the gw-vm> prompt.
vm_login() {
	# The banner and prompt may come before townguard's running line: the whole log.
	wait_log "$work/console.log" 'technician console' "$VM_BOOT_S" || fail "no console login banner"
	wait_log "$work/console.log" 'Password: ' 30 || fail "no Password: prompt on the console"
	vm_key "$VM_PASSWORD"$'\r'
	vm_wait 'gw-vm> ' 60 || fail "no gw-vm> prompt after the password"
}

vm_sh() {
	local start
	vm_n=$((vm_n + 1))
	start=$(wc -c <"$work/debug.log")
	# The marker is typed split ("__vm""_end"), so the shell's echo of the line is not it;
	# the output is what comes between the echo of CMD (one line) and the marker's line.
	printf '%s\n%s\n' "$1" "echo __vm\"\"_end_$vm_n \$?" >&"$vm_dbg"
	wait_for 60 grep -q "^__vm_end_$vm_n " "$work/debug.log" || fail "debug shell: no answer to: $1"
	tail -c +"$((start + 1))" "$work/debug.log" | tr -d '\r' |
		sed '1d' | sed "/__vm\"\"_end_$vm_n/,\$d" >"$work/sh.out"
	return "$(tr -d '\r' <"$work/debug.log" | sed -n "s/^__vm_end_$vm_n \\([0-9]*\\)$/\\1/p" | tail -n 1)"
}

vm_kill() {
	kill -KILL "$(cat "$work/qemu.pid")" 2>/dev/null
	wait "$vm_pid" 2>/dev/null
	return 0
}

on_fail() {
	show_log "$work/console.log" 40
	show_log "$work/tg.log" 40
	show_log "$work/debug.log" 20
	show_log "$work/qemu.log" 10
}

# vm_data SERIAL: $work/data.ext4 made afresh holding the first configuration
# (region lab, id gw-vm), a hub key ($work/hub) and a bundle of serial SERIAL
# installed by the host's townguard, blocking blocked.test ($work/lab-SERIAL.bundle),
# and the console's technician password $VM_PASSWORD.
vm_data() {
	local tg=$TOP/${BUILD:-build}/townguard hub=$TOP/${BUILD:-build}/tg-hub
	rm -rf "$work/data"
	mkdir -p "$work/data/keys"
	[ -f "$work/hub/hub.key" ] || "$hub" keygen --out "$work/hub" >/dev/null || fail "tg-hub keygen"
	cp "$work/hub/hub.pub" "$work/data/keys/hub.pub"
	echo blocked.test >"$work/names.txt"
	"$hub" build --key "$work/hub/hub.key" --region lab --serial "$1" --out "$work/lab-$1.bundle" \
		domains:"$work/names.txt",rule=101 >/dev/null || fail "tg-hub build"
	printf '[gateway]\nid = gw-vm\nregion = lab\nmode = bridge\n' >"$work/data/townguard.ini"
	"$tg" bundle install "$work/lab-$1.bundle" -c "$work/data/townguard.ini" \
		-o gateway.data_dir="$work/data" >"$work/install.log" 2>&1 || fail "bundle install: $(cat "$work/install.log")"
	# The technician password of the console (engineer C's console, docs/console.md).
	echo "$VM_PASSWORD" | "$tg" passwd -c "$work/data/townguard.ini" -o gateway.data_dir="$work/data" \
		>"$work/passwd.log" 2>&1 || fail "townguard passwd: $(cat "$work/passwd.log")"
	vm_mkdata "$work/data" "$work/data.ext4"
}

vm_mkdata() {
	rm -f "$2"
	mke2fs -q -F -t ext4 -L tgdata -d "$1" "$2" "${data_mb}M" >/dev/null || fail "mke2fs of the data partition $2"
}
