#!/usr/bin/env bash
# The qemu-arm64 image (make test-images: the cross-built townguard, Debian's
# arm64 kernel, busybox-static) under TCG on QEMU's virt machine with a
# cortex-a53: it boots to townguard's running line on the PL011 console; the
# machine and the firmware are aarch64; the root is the read-only squashfs and
# the data partition ext4 on /data; the arm64 modules image.conf names are
# loaded (virtio_net, the i6300esb watchdog on virt's PCIe) and the watchdog
# is armed with the board's timeout; on the console (ttyAMA0, the board's),
# a first login sets the technician's password and `status` answers with the
# board's ports.
set -uo pipefail
. "${TOP:-.}/tests/lib.sh"
make_work tgA-boot
. "$TOP/tests/image/vm.sh"
vm_image qemu-arm64
command -v qemu-system-aarch64 >/dev/null || { echo "skipped: no qemu-system-aarch64"; exit 77; }

vm_start --append tg.failsafe=0
must_boot
echo "ok: booted to running: $(grep -m 1 'running: mode' "$work/tg.log")"
grep -q 'watchdog\] info: /dev/watchdog .*armed, timeout 10 s' "$work/tg.log" ||
	fail "the watchdog was not armed with the board's 10 s"
echo "ok: watchdog armed"

# (short commands: the debug console wraps an echoed line at 80 columns)
# The console: the first login chooses the password, then status.
# (the prompt may come before the running line: from the boot on)
wait_log "$work/console.log" 'New password:' 60 || fail "no password prompt on the console"
vm_key $'arm64-console\r'
vm_wait 'New password again:' 30 || fail "the console did not ask for the password again"
vm_key $'arm64-console\r'
vm_wait 'Logged in' 60 || fail "no login with the new password"
vm_key $'status\r'
vm_wait 'townguard> status' 30 || fail "status not echoed at the prompt"
vm_wait '^mode +bridge' 30 || fail "status: no mode line"
vm_wait '^ports +LAN eth0 (up|down), WAN eth1' 30 || fail "status: no line with the board's ports"
echo "ok: console login on ttyAMA0, status answers: $(grep -m 1 '^ports ' "$work/console.log")"

vm_sh "uname -m" || fail "uname -m"
expect "machine" "aarch64" "$(tr -d '\r' <"$work/sh.out")"
# townguard's e_machine: 0xb7 (EM_AARCH64), little-endian
vm_sh "od -An -tx1 -j18 -N2 /usr/bin/townguard" || fail "od of /usr/bin/townguard"
expect "townguard's ELF machine" "b7 00" "$(xargs <"$work/sh.out")"
vm_sh "cat /proc/mounts" || fail "cat /proc/mounts"
grep -Eq '^/dev/vda / squashfs ro' "$work/sh.out" || fail "root is not the read-only squashfs: $(cat "$work/sh.out")"
grep -Eq '^/dev/vdb /data ext4 rw' "$work/sh.out" || fail "no ext4 data partition on /data: $(cat "$work/sh.out")"
echo "ok: squashfs root read-only, ext4 /data"
vm_sh "cat /proc/modules" || fail "cat /proc/modules"
for m in virtio_net i6300esb virtio_blk ext4; do
	grep -q "^$m " "$work/sh.out" || fail "module $m not loaded"
done
echo "ok: modules loaded"
# What the box uses at idle (docs/boards.md records it; no bound here: a figure, not a check).
vm_sh 'grep -E "^(MemTotal|MemAvailable):" /proc/meminfo' || fail "/proc/meminfo"
total=$(awk '/^MemTotal:/ { print $2 }' "$work/sh.out") avail=$(awk '/^MemAvailable:/ { print $2 }' "$work/sh.out")
vm_sh 'grep VmRSS /proc/$(cat /run/townguard.pid)/status' || fail "townguard's status"
echo "idle: $(((total - avail) / 1024)) MiB used of $((total / 1024)) MiB; townguard $(awk '{ print $2, $3 }' "$work/sh.out")"
