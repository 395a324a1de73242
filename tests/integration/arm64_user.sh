#!/usr/bin/env bash
# The arm64 build (board/nanopi-r4s: gcc-aarch64-linux-gnu against the sysroot
# tools/install-deps makes with mmdebstrap) is an aarch64 program that,
# run under qemu-user with the sysroot's libraries, replays captures exactly
# as the host build does: the same flows (JSON, byte for byte) and the same
# totals (but for the time line) on the demo capture, a DNS flood and
# malformed frames (alignment or endianness slips would differ or crash).
# Skips (exit 77) without the sysroot (tools/install-deps makes it).
set -euo pipefail
top=${TOP:-.}
. "$top/tests/lib.sh"
build=$top/${BUILD:-build}
board=nanopi-r4s
sysroot=${ARM64_SYSROOT:-/usr/local/src/townguard/arm64/sysroot}
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ ! -f "$sysroot/usr/include/ndpi/ndpi_main.h" ] || [ -z "$qemu" ]; then
	echo "skipped: no arm64 sysroot at $sysroot or no qemu-aarch64 (run tools/install-deps)"
	exit 77
fi
make_work
# The board's own configuration beside the tree's .config, into build/<board>/;
# nothing of the caller's make (SAN=1, its jobserver) is passed on.
out=$top/build/$board
mk() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -C "$top" --no-print-directory -j2 \
	KCONFIG_CONFIG="build/$board/.config" O="build/$board" SAN=0 "$@"; }
mk "${board}_defconfig" >"$work/make.log" 2>&1 || { cat "$work/make.log"; fail "make ${board}_defconfig"; }
mk "build/$board/townguard" >>"$work/make.log" 2>&1 || { tail -n 40 "$work/make.log"; fail "cross build of $board"; }
tg=$out/townguard

file -b "$tg" >"$work/file"
has "$work/file" "ELF 64-bit LSB"
has "$work/file" "ARM aarch64"
machine=$(aarch64-linux-gnu-readelf -h "$tg" | sed -n 's/^ *Machine: *//p')
expect "readelf machine" "AArch64" "$machine"
# Every library it needs is the sysroot's (the loader would refuse a host one).
aarch64-linux-gnu-readelf -d "$tg" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' >"$work/needed"
has "$work/needed" "libndpi.so"
while read -r lib; do
	[ -e "$sysroot/lib/aarch64-linux-gnu/$lib" ] || [ -e "$sysroot/usr/lib/aarch64-linux-gnu/$lib" ] ||
		fail "$tg needs $lib, not in $sysroot"
done <"$work/needed"

arm() { "$qemu" -L "$sysroot" "$tg" "$@"; }
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
	diff -u <(grep -v '^time ' "$work/$cap.host.tot") <(grep -v '^time ' "$work/$cap.arm.tot") ||
		fail "$cap.pcap: arm64 totals differ from the host's"
	echo "ok: $cap.pcap: $(wc -l <"$work/$cap.arm.json") flows, the same on arm64 (qemu-user) as on the host"
done
grep -q '^frames *61 ' "$work/demo.arm.tot" || fail "demo.pcap: not 61 frames on arm64"
