#!/usr/bin/env bash
# Conformance with nDPI's reference reader: every capture in ../shared/pcaps
# is replayed with the same nDPI data files ndpiReader was given, and every
# flow's protocol is compared with expected/<FILE>.ndpireader.txt.
# Passes when at least 99% of the reference flows agree; lists every
# disagreement. Skips (exit 77) when ../shared is absent.
set -eu
pcaps=${SHARED:-$(dirname "$0")/../../../shared}/pcaps
if [ ! -d "$pcaps/expected" ]; then
	echo "skipped: no shared captures at $pcaps (they live beside the repository in ../shared)"
	exit 77
fi
exec /usr/bin/python3 "$(dirname "$0")/compare_ndpireader.py" \
	--townguard "${TOP:-.}/${BUILD:-build}/townguard" --pcaps "$pcaps" --min-agreement 0.99
