#!/usr/bin/env bash
# The qemu-x86_64 image (make test-images) under TCG: it boots to townguard's
# running line; the root is the squashfs, read-only; the data partition is
# ext4 on the board's data directory; the modules image.conf names are loaded
# (and what they need, in modules.dep order: virtio before virtio_net);
# townguard runs on the board's ports with the watchdog armed; when it is
# killed init starts it again; the technician logs in on the console (ttyS0)
# and `status` answers with the bundle in force; townguard's log is in its
# file on the data partition and none of its lines reach the console (the
# technician's screen; the tests follow the file on a port of its own). Then the watchdog (i6300esb, CONFIG_WATCHDOG_TIMEOUT=10 in the
# board's defconfig): townguard stopped with SIGSTOP inside the VM stops
# feeding it and the box resets (the new kernel started at most twice the
# timeout after SIGSTOP: 10.5 s measured); it comes back to running with the same
# bundle in force. A clean stop (tg-stop: SIGTERM, the magic close) does not
# reset it: the box is still up, same boot, past the timeout. One script,
# one boot fewer (make test's time).
set -uo pipefail
. "${TOP:-.}/tests/lib.sh"
make_work tgI-boot
. "$TOP/tests/image/vm.sh"
vm_image qemu-x86_64
vm_data 7

vm_start --append tg.failsafe=0
must_boot
echo "ok: booted to running: $(grep -m 1 'running: mode' "$work/tg.log")"
grep -q 'blocklist in force: /data/bundle/current, serial 7' "$work/tg.log" ||
	fail "serial 7 not in force at boot"
grep -q 'watchdog\] info: /dev/watchdog .*armed, timeout 10 s' "$work/tg.log" ||
	fail "the watchdog was not armed with the board's 10 s"
echo "ok: watchdog armed"

# The technician console on the board's serial port (ttyS0): login, then `status`.
vm_login
vm_key $'status\r'
vm_wait '^bundle +serial 7' 30 || fail "status does not show serial 7"
vm_wait '^(OK|PROBLEM:)' 30 || fail "status has no OK/PROBLEM line"
echo "ok: console login on ttyS0; status: $(grep -E '^(OK|PROBLEM:)' "$work/console.log" | tail -n 1)"

vm_sh "cat /proc/mounts" || fail "cat /proc/mounts"
grep -Eq '^/dev/vda / squashfs ro' "$work/sh.out" || fail "root is not the read-only squashfs: $(cat "$work/sh.out")"
grep -Eq '^/dev/vdb /data ext4 rw' "$work/sh.out" || fail "no ext4 data partition on /data: $(cat "$work/sh.out")"
echo "ok: squashfs root read-only, ext4 /data"

vm_sh "cat /proc/modules" || fail "cat /proc/modules"
for m in virtio_net i6300esb ext4 virtio_blk; do
	grep -q "^$m " "$work/sh.out" || fail "module $m not loaded"
done
echo "ok: modules loaded"
vm_sh "ls /data" && grep -q townguard.ini "$work/sh.out" || fail "no townguard.ini on /data"
# The log on flash: each line after its UTC time; the console had none of them.
vm_sh "grep -c 'Z townguard.* info: running: mode' /data/log/townguard.log" ||
	fail "no running line in /data/log/townguard.log: $(cat "$work/sh.out")"
grep -Eq 'townguard\[[a-z]+\] (error|warn|info|debug):' "$work/console.log" &&
	fail "townguard's log reached the console: $(grep -Em 1 'townguard\[[a-z]+\] ' "$work/console.log")"
echo "ok: the log in /data/log/townguard.log, not on the console"

vm_sh 'kill -KILL $(cat /run/townguard.pid)'
vm_wait 'init: townguard exited' 30 || fail "init did not see townguard exit"
must_boot "after a kill"
echo "ok: init restarts townguard"

vm_sh 'cat /proc/sys/kernel/random/boot_id' || fail "boot_id"
boot1=$(cat "$work/sh.out")

vm_sh 'kill -STOP $(cat /run/townguard.pid)' || fail "SIGSTOP of townguard"
t0=$(date +%s.%N)
echo "ok: townguard stopped (SIGSTOP) in the VM"
must_boot "after the watchdog reset"
t1=$(date +%s.%N)
vm_sh 'cat /proc/sys/kernel/random/boot_id; cut -d" " -f1 /proc/uptime' || fail "boot_id after the reset"
t2=$(date +%s.%N)
boot2=$(head -n 1 "$work/sh.out")
# When the new kernel started: now less its uptime. The reset came at most the
# board's timeout after the last feed, so at most 10 s after SIGSTOP; the bound
# is twice that (QEMU's reset and the reads here, under load), and the
# driver's own default (30 s) if townguard's 10 s were not set would fail it.
reset_s=$(calc "$t2 - $(sed -n 2p "$work/sh.out") - $t0" %.1f)
[ "$(calc "$reset_s <= 20" %d)" = 1 ] || fail "the watchdog reset came $reset_s s after SIGSTOP (timeout 10 s)"
[ -n "$boot2" ] && [ "$boot1" != "$boot2" ] || fail "no new boot (boot_id $boot1, then $boot2)"
tail -n 30 "$work/tg.log" | grep -q 'blocklist in force: /data/bundle/current, serial 7' ||
	fail "serial 7 not in force after the reset"
echo "ok: reset by the watchdog $reset_s s after SIGSTOP (timeout 10 s) and back to running with serial 7 ($(calc "$t1 - $t0" %.1f) s from SIGSTOP to running)"

vm_sh 'tg-stop' || fail "tg-stop"
vm_logwait 'watchdog\] info: /dev/watchdog: disarmed \(clean stop\)' 30 || fail "no magic close on tg-stop"
vm_wait 'init: townguard stopped' 10 || fail "init restarted townguard after tg-stop"
sleep 11
vm_sh 'cat /proc/sys/kernel/random/boot_id' || fail "the box does not answer after the clean stop"
[ "$(cat "$work/sh.out")" = "$boot2" ] || fail "the box was reset after a clean stop"
vm_loghas 'running: mode' && fail "townguard started again after tg-stop"
echo "ok: a clean stop disarms the watchdog: same boot 11 s later (timeout 10 s)"
grep -Eq 'townguard\[[a-z]+\] (error|warn|info|debug):' "$work/console.log" &&
	fail "townguard's log reached the console: $(grep -Em 1 'townguard\[[a-z]+\] ' "$work/console.log")"
echo "ok: no townguard log line on the console through kills, a reset and a stop"
