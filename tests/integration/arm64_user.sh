#!/usr/bin/env bash
# The NanoPi R4S image (make test-images; built here when absent): the card
# image holds the boot loader's gap, the boot partition U-Boot reads (the
# kernel, the initramfs, Debian's R4S device tree and an extlinux.conf with the
# board's console at 1500000 baud), the squashfs root and the data partition;
# the root's townguard is an aarch64 program (gcc-aarch64-linux-gnu against the
# sysroot tools/install-deps makes with mmdebstrap) that, run under qemu-user
# on the image's own root (so every library it needs is in the image),
# replays captures exactly as the host build does: the same flows (JSON, byte
# for byte) and totals (but for the time line) on the demo capture, a DNS
# flood and malformed frames (an alignment or endianness slip would differ).
# Skips (exit 77) without the sysroot or the image inputs (tools/install-deps).
set -euo pipefail
top=${TOP:-.}
. "$top/tests/lib.sh"
build=$top/${BUILD:-build}
board=nanopi-r4s
sysroot=${ARM64_SYSROOT:-/usr/local/src/townguard/arm64/sysroot}
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ ! -f "$sysroot/usr/include/ndpi/ndpi_main.h" ] || [ -z "$qemu" ] ||
	[ ! -f /usr/local/src/townguard/image/arm64/.townguard-image ]; then
	echo "skipped: no arm64 sysroot, image inputs or qemu-aarch64 (run tools/install-deps)"
	exit 77
fi
make_work tgA-r4s
img=$top/build/$board
if [ ! -f "$img/sdcard.img" ]; then
	# The board's own configuration beside the tree's .config; nothing of the
	# caller's make (SAN=1, its jobserver) is passed on.
	mk() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -C "$top" --no-print-directory -j2 \
		KCONFIG_CONFIG="build/$board/.config" O="build/$board" SAN=0 "$@"; }
	{ mk "${board}_defconfig" && mk image; } >"$work/make.log" 2>&1 ||
		{ tail -n 40 "$work/make.log"; fail "make image for $board"; }
fi
# shellcheck source=/dev/null
. "$img/image.conf"

# ---- the card: partitions where image.conf says, the root as built
sfdisk -J "$img/sdcard.img" >"$work/table.json"
/usr/bin/python3 - "$work/table.json" "$((BOOT_START_MB * 2048))" "$((BOOT_SIZE_MB * 2048))" <<'PY' || fail "card partition table: $(cat "$work/table.json")"
import json, sys
parts = json.load(open(sys.argv[1]))["partitiontable"]["partitions"]
assert len(parts) == 3, f"{len(parts)} partitions, want 3"
assert parts[0]["start"] == int(sys.argv[2]) and parts[0]["size"] == int(sys.argv[3]), parts[0]
assert parts[0].get("bootable"), "partition 1 is not bootable"
assert parts[1]["start"] == parts[0]["start"] + parts[0]["size"], parts[1]
print("ok: card: boot at sector %d, root at %d, data at %d" % tuple(p["start"] for p in parts))
PY
part() { # part N FILE: partition N of the card into FILE
	/usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["partitiontable"]["partitions"][int(sys.argv[2])-1]; print(p["start"], p["size"])' \
		"$work/table.json" "$1" | { read -r start size; dd if="$img/sdcard.img" of="$2" bs=512 skip="$start" count="$size" status=none; }
}
part 2 "$work/p2"
# partition 3: the data partition, image.conf's DATA_SIZE_MB (sized for the 1M+1M bundle), ext4 with the first configuration
part 3 "$work/p3"
expect "data partition bytes" "$((DATA_SIZE_MB * 1024 * 1024))" "$(stat -c %s "$work/p3")"
debugfs -R "cat /townguard.ini" "$work/p3" 2>/dev/null | grep -q '^mode = bridge' || fail "partition 3 is not the data partition with townguard.ini"
echo "ok: card: partition 3 is the $DATA_SIZE_MB MiB ext4 data partition"
cmp -n "$(stat -c %s "$img/rootfs.squashfs")" "$img/rootfs.squashfs" "$work/p2" || fail "partition 2 is not rootfs.squashfs"
part 1 "$work/p1"
debugfs -R "cat /extlinux/extlinux.conf" "$work/p1" >"$work/extlinux.conf" 2>/dev/null
has "$work/extlinux.conf" "append console=ttyS2,1500000"
has "$work/extlinux.conf" "fdt /rk3399-nanopi-r4s.dtb"
debugfs -R "ls -l /" "$work/p1" 2>/dev/null >"$work/boot.ls"
for f in vmlinuz initramfs.cpio.gz rk3399-nanopi-r4s.dtb; do has "$work/boot.ls" " $f"; done
echo "ok: boot partition: kernel, initramfs, dtb, extlinux.conf"
# The board's console is the one Debian's device tree names, at its speed.
expect "dtb model" "FriendlyElec NanoPi R4S" "$(fdtget -ts "$img/board.dtb" / model)"
expect "dtb stdout-path" "serial2:${CONSOLE_SPEED}n8" "$(fdtget -ts "$img/board.dtb" /chosen stdout-path)"
expect "console" "ttyS2 1500000" "$CONSOLE $CONSOLE_SPEED"
grep -q '\.console = "/dev/ttyS2"' "$top/board/$board/board.c" && grep -q '\.console_speed = 1500000' "$top/board/$board/board.c" ||
	fail "board/$board/board.c's console is not ttyS2 at 1500000"

# ---- the root's townguard
unsquashfs -q -n -d "$work/root" "$img/rootfs.squashfs" >/dev/null
root=$work/root
tg=$root/usr/bin/townguard
file -b "$tg" >"$work/file"
has "$work/file" "ELF 64-bit LSB"
has "$work/file" "ARM aarch64"
machine=$(aarch64-linux-gnu-readelf -h "$tg" | sed -n 's/^ *Machine: *//p')
expect "readelf machine" "AArch64" "$machine"
aarch64-linux-gnu-readelf -d "$tg" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' >"$work/needed"
has "$work/needed" "libndpi.so"
while read -r lib; do
	[ -e "$root/lib/aarch64-linux-gnu/$lib" ] || fail "$tg needs $lib, not in the image's /lib/aarch64-linux-gnu"
done <"$work/needed"

# The image's root is the only library path: what runs here runs on the board.
arm() { "$qemu" -L "$root" "$tg" "$@"; }
version=$(arm version)
case $version in
"townguard "*"(board $board)") echo "ok: qemu-user runs it: $version" ;;
*) fail "townguard version under qemu-user: [$version]" ;;
esac

"$build/tg-pcapgen" demo "$work/demo.pcap" >/dev/null
"$build/tg-pcapgen" flows 3000 "$work/dns.pcap" >/dev/null
"$build/tg-pcapgen" garbage 2000 "$work/garbage.pcap" --seed 7 >/dev/null
for cap in demo dns garbage; do
	"$build/townguard" replay "$work/$cap.pcap" --flows --quiet >"$work/$cap.host.json" 2>"$work/$cap.host.tot"
	arm replay "$work/$cap.pcap" --flows --quiet >"$work/$cap.arm.json" 2>"$work/$cap.arm.tot" ||
		fail "arm64 replay of $cap.pcap exited $?: $(tail -n 3 "$work/$cap.arm.tot")"
	[ -s "$work/$cap.host.json" ] || fail "host replay of $cap.pcap printed no flow"
	diff -u "$work/$cap.host.json" "$work/$cap.arm.json" || fail "$cap.pcap: arm64 flows differ from the host's"
	# time and nDPI's heap peak depend on the build (a sanitizer's allocator), not on the answer
	diff -u <(grep -v -e '^time ' -e '^dpi memory ' "$work/$cap.host.tot") \
		<(grep -v -e '^time ' -e '^dpi memory ' "$work/$cap.arm.tot") ||
		fail "$cap.pcap: arm64 totals differ from the host's"
	echo "ok: $cap.pcap: $(wc -l <"$work/$cap.arm.json") flows, the same on arm64 (qemu-user) as on the host"
done
grep -q '^frames *61 ' "$work/demo.arm.tot" || fail "demo.pcap: not 61 frames on arm64"
