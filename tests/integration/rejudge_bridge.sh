#!/usr/bin/env bash
# Bridge mode: a new blocklist applies to open flows (tests/lab/rejudge_checks.sh).
# Open HTTPS downloads are cut within 1 s of a bundle that blocks their
# address or their name (the flow's next frame is dropped and both ends are
# reset); an allowed one stays up, byte-identical, across three swaps.
set -uo pipefail
MODE=bridge
. "${TOP:-.}/tests/lab/rejudge_checks.sh"

inline_setup
inline_start
rejudge_checks
inline_stop
grep 'stopped:' "$work/tg.log" | sed 's/^/  /'
echo "PASS"
