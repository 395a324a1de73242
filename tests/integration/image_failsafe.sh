#!/usr/bin/env bash
# Failsafe of the qemu-x86_64 image: a key on the console at the boot prompt
# gives a shell with the data partition not mounted; factory-reset there
# recreates it (the bundle and hub key on it are gone, the first
# configuration is back); leaving the shell boots on to running.
set -uo pipefail
. "${TOP:-.}/tests/lib.sh"
make_work tgI-fs
. "$TOP/tests/image/vm.sh"
vm_image qemu-x86_64
vm_data 3

# A long prompt, so the key arrives in time however slow the VM is.
vm_start --append tg.failsafe=60
vm_wait 'press any key within 60 s for the failsafe shell' "$VM_BOOT_S" || fail "no failsafe prompt"
vm_key x
vm_wait 'init: failsafe: the data partition /dev/vdb is not mounted' 20 || fail "no failsafe shell after a key"
echo "ok: a key at the prompt gives the failsafe shell"
console() { printf '%s\n' "$1" >&"$vm_con"; }
console 'grep -q " /data " /proc/mounts || echo "data is"" not mounted"'
vm_wait '^data is not mounted' 20 || fail "the data partition is mounted in the failsafe shell"
console 'factory-reset'
vm_wait 'factory-reset: (done|.*failed)' 60 || fail "factory-reset did not finish"
vm_has 'failed' && fail "factory-reset failed"
grep -q 'factory-reset: done' "$work/console.log" || fail "factory-reset did not finish"
echo "ok: factory-reset recreated the data partition"
console 'exit'
must_boot "after the failsafe shell"
tail -n 20 "$work/tg.log" | grep -q 'no hub key at /data/keys/hub.pub' ||
	fail "the old hub key survived the factory reset"
vm_sh 'ls /data' || fail "ls /data"
grep -q townguard.ini "$work/sh.out" || fail "no first configuration after the reset: $(cat "$work/sh.out")"
grep -q '^bundle$' "$work/sh.out" && fail "the old bundle survived the reset"
vm_sh 'cat /data/townguard.ini'
grep -q '^id = townguard' "$work/sh.out" || fail "not the first configuration: $(cat "$work/sh.out")"
echo "ok: booted on with the first configuration, no bundle, no key"
