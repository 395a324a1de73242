#!/usr/bin/env bash
# Power cuts on the qemu-x86_64 image: QEMU killed (SIGKILL) at a random
# moment while bundles are being installed on the data partition and the
# spool takes a summary every second, CUTS times (10, as issue 15 asks; more
# in make soak-image): every boot after a cut has a bundle in force, the old
# or a newer one, never none, the spool opens with the records it had (the
# reader drops a torn tail), the kernel logs no ext4 error, and the data
# partition needs no manual repair: ext4's journal replays at mount, and after
# a clean power-off at the end the host's `e2fsck -fn` finds it clean.
set -uo pipefail
. "${TOP:-.}/tests/lib.sh"
make_work tgI-cut
. "$TOP/tests/image/vm.sh"
vm_image qemu-x86_64
CUTS=${CUTS:-10}
vm_data 1
# The bundles the VM installs, serials 2.., on the data partition: twenty
# thousand names each (228 KB: an install writes and syncs for a while), ten
# per cut, more than a cut's window installs. Each is removed after its
# install, so a boot goes on with the next serial.
mkdir -p "$work/data/incoming"
seq 1 20000 | sed 's/^/name-/; s/$/.cut.test/' >>"$work/names.txt"
for s in $(seq 2 $((CUTS * 10 + 1))); do
	"$TOP/${BUILD:-build}/tg-hub" build --key "$work/hub/hub.key" --region lab --serial "$s" \
		--out "$work/data/incoming/$(printf %04d "$s").bundle" domains:"$work/names.txt",rule=101 >/dev/null ||
		fail "tg-hub build serial $s"
done
# A summary every second into the spool (no uplink: the records wait there),
# so the spool is being written when the power goes too.
printf '[report]\ninterval = 1\n' >>"$work/data/townguard.ini"
vm_mkdata "$work/data" "$work/data.ext4"

serial_now() { # the serial of the last "blocklist in force" line since the boot (townguard's log)
	vm_new_all | sed -n 's/.*blocklist in force: \/data\/bundle\/[a-z]*, serial \([0-9]*\).*/\1/p' | tail -n 1
}
vm_new_all() { tail -n +"$((boot_mark + 1))" "$work/tg.log"; }
last=1
for i in $(seq 1 "$CUTS"); do
	boot_mark=$(wc -l <"$work/tg.log" 2>/dev/null || echo 0)
	vm_start --append tg.failsafe=0
	must_boot "after cut $((i - 1))"
	got=$(serial_now)
	[ -n "$got" ] || fail "boot $i: no bundle in force: $(vm_new_all | grep -E 'bundle|list' | tail -n 3)"
	[ "$got" -ge "$last" ] || fail "boot $i: serial $got in force, older than $last before the cut"
	spool=$(vm_new_all | grep -o 'spool\] info: /data/spool: [0-9]* record(s) waiting' | grep -o '[0-9]* record' | tail -n 1)
	[ -n "$spool" ] || fail "boot $i: the spool did not open: $(vm_new_all | grep -i spool | tail -n 2)"
	echo "ok: boot $i: serial $got in force (at least $last); spool: ${spool}s waiting"
	last=$got
	# Installs one after another in the background, then the cut at a random moment.
	vm_sh 'echo ext4 $(dmesg | grep -cE "EXT4-fs (error|warning)") left $(ls /data/incoming | wc -l)'
	read -r _ ext4 _ left < <(grep '^ext4 ' "$work/sh.out" | tail -n 1)
	[ "${ext4:-x}" = 0 ] || fail "boot $i: the kernel logged ext4 errors or warnings: $(cat "$work/sh.out")"
	[ "$left" -gt 0 ] || fail "boot $i: no bundle left to install (make more than $((CUTS * 10)))"
	vm_sh 'for f in /data/incoming/*.bundle; do townguard bundle install $f -c /data/townguard.ini; rm $f; done >/tmp/inst.log 2>&1 &'
	sleep "$(calc "0.3 + $RANDOM % 25 / 10" %.1f)"
	vm_kill
	echo "ok: power cut $i ($left bundles were left to install)"
done
boot_mark=$(wc -l <"$work/tg.log")
vm_start --append tg.failsafe=0
must_boot "after the last cut"
got=$(serial_now)
[ -n "$got" ] && [ "$got" -ge "$last" ] || fail "after the last cut: serial [$got], want at least $last"
echo "ok: after $CUTS cuts: serial $got in force"
vm_sh 'tg-stop poweroff >/dev/console 2>&1 &'
wait_for 60 eval '! alive "$vm_pid"' || fail "the VM did not power off"
e2fsck -fn "$work/data.ext4" >"$work/fsck.log" 2>&1 || fail "e2fsck -fn: $(cat "$work/fsck.log")"
echo "ok: e2fsck -fn clean: $(tail -n 1 "$work/fsck.log")"
