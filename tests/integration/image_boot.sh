#!/usr/bin/env bash
# The qemu-x86_64 image (make test-images) under TCG: it boots to townguard's
# running line; the root is the squashfs, read-only; the data partition is
# ext4 on the board's data directory; the modules image.conf names are loaded
# (and what they need, in modules.dep order: virtio before virtio_net);
# townguard runs on the board's ports with the watchdog armed; when it is
# killed init starts it again. (Console login and `status`: once the console
# is merged.)
set -uo pipefail
. "${TOP:-.}/tests/lib.sh"
make_work tgI-boot
. "$TOP/tests/image/vm.sh"
vm_image qemu-x86_64

vm_start --append tg.failsafe=0
must_boot
echo "ok: booted to running: $(grep -m 1 'running: mode' "$work/console.log")"
grep -q 'watchdog\] info: /dev/watchdog .*armed, timeout 10 s' "$work/console.log" ||
	fail "the watchdog was not armed with the board's 10 s"
echo "ok: watchdog armed"

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

vm_sh 'kill -KILL $(cat /run/townguard.pid)'
vm_wait 'init: townguard exited' 30 || fail "init did not see townguard exit"
must_boot "after a kill"
echo "ok: init restarts townguard"
