#!/usr/bin/env bash
# A newcomer's first commands (issue 16): in a fresh clone of this tree's
# committed HEAD, `make fuzz` (FUZZ_SECONDS=2), `make check`, and the image
# targets (`make <board>_defconfig && make image` for qemu-x86_64 and
# nanopi-r4s), each as the first commands run in their own clone, must work:
# a target that needs something it does not build fails here. Run by .ci/run after `make test` (it builds the
# tree from nothing twice over, so it stays out of `make test`'s budget).
#
#   tests/fresh_clone.sh            (from anywhere in the tree)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/tgclone.XXXXXX)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# clone_run NAME "TARGET..." ["TARGET..." ...]: a fresh clone, then each
# quoted group as one make command, in order, the first being the first
# command run there (`make <board>_defconfig && make image` is two).
clone_run() {
	local name=$1 dir=$work/$1 start cmd
	shift
	git clone -q "$top" "$dir" || fail "git clone $top"
	start=$(date +%s)
	for cmd in "$@"; do
		# shellcheck disable=SC2086 # a group is several words on purpose
		if ! make -C "$dir" -j2 $cmd >>"$work/$name.log" 2>&1; then
			tail -n 30 "$work/$name.log" >&2
			fail "make $cmd (in: $(printf 'make %s; ' "$@")) in a fresh clone"
		fi
	done
	echo "ok: $(printf 'make %s; ' "$@")works as the first commands in a fresh clone ($(($(date +%s) - start)) s)"
	rm -rf "$dir"
}

clone_run fuzz "fuzz FUZZ_SECONDS=2"
clone_run check check
# The image targets as docs/boards.md gives them: the virtual board, and the
# real arm64 board (cross-built against install-deps' sysroot, its card made).
clone_run image-x86 qemu-x86_64_defconfig image
clone_run image-r4s nanopi-r4s_defconfig image
echo PASS
