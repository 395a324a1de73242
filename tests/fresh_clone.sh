#!/usr/bin/env bash
# A newcomer's first commands (issue 16): in a fresh clone of this tree's
# committed HEAD, `make fuzz` (FUZZ_SECONDS=2) and then `make check`, each as
# the first target run there, must work: a target that needs something it
# does not build fails here. Run by .ci/run after `make test` (it builds the
# tree from nothing twice over, so it stays out of `make test`'s budget).
#
#   tests/fresh_clone.sh            (from anywhere in the tree)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/tgclone.XXXXXX)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# clone_run NAME TARGET...: a fresh clone, then make TARGET... as its first command.
clone_run() {
	local dir=$work/$1 start
	shift
	git clone -q "$top" "$dir" || fail "git clone $top"
	start=$(date +%s)
	if ! make -C "$dir" -j2 "$@" >"$work/$1.log" 2>&1; then
		tail -n 30 "$work/$1.log" >&2
		fail "make $* as the first command in a fresh clone"
	fi
	echo "ok: make $* works as the first command in a fresh clone ($(($(date +%s) - start)) s)"
}

clone_run fuzz fuzz FUZZ_SECONDS=2
clone_run check check
echo PASS
