#!/usr/bin/env bash
# The watchdog of the qemu-x86_64 image (i6300esb, CONFIG_WATCHDOG_TIMEOUT=10
# in its defconfig): townguard stopped with SIGSTOP inside the VM stops
# feeding it and the box resets; it comes back to running with the same
# bundle in force. A clean stop (tg-stop: SIGTERM, the magic close) does not
# reset it: the box is still up, same boot, well past the timeout.
set -uo pipefail
. "${TOP:-.}/tests/lib.sh"
make_work tgI-wdog
. "$TOP/tests/image/vm.sh"
vm_image qemu-x86_64
vm_data 7

vm_start --append tg.failsafe=0
must_boot
grep -q 'blocklist in force: /data/bundle/current, serial 7' "$work/console.log" ||
	fail "serial 7 not in force at boot"
vm_sh 'cat /proc/sys/kernel/random/boot_id' || fail "boot_id"
boot1=$(cat "$work/sh.out")

vm_sh 'kill -STOP $(cat /run/townguard.pid)' || fail "SIGSTOP of townguard"
t0=$(date +%s)
echo "ok: townguard stopped (SIGSTOP) in the VM"
must_boot "after the watchdog reset"
t1=$(date +%s)
vm_sh 'cat /proc/sys/kernel/random/boot_id' || fail "boot_id after the reset"
boot2=$(cat "$work/sh.out")
[ -n "$boot2" ] && [ "$boot1" != "$boot2" ] || fail "no new boot (boot_id $boot1, then $boot2)"
tail -n 30 "$work/console.log" | grep -q 'blocklist in force: /data/bundle/current, serial 7' ||
	fail "serial 7 not in force after the reset"
echo "ok: reset by the watchdog and back to running with serial 7 ($((t1 - t0)) s from SIGSTOP to running; timeout 10 s)"

vm_sh 'tg-stop' || fail "tg-stop"
vm_wait 'watchdog\] info: /dev/watchdog: disarmed \(clean stop\)' 30 || fail "no magic close on tg-stop"
vm_wait 'init: townguard stopped' 10 || fail "init restarted townguard after tg-stop"
sleep 12
vm_sh 'cat /proc/sys/kernel/random/boot_id' || fail "the box does not answer after the clean stop"
[ "$(cat "$work/sh.out")" = "$boot2" ] || fail "the box was reset after a clean stop"
vm_has 'running: mode' && fail "townguard started again after tg-stop"
echo "ok: a clean stop disarms the watchdog: same boot 12 s later (timeout 10 s)"
