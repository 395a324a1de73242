#!/usr/bin/env bash
# tools/check-layers, the layer rule of docs/layout.md, as make check runs it:
#
#   the real tree            -> clean (exit 0)
#   scratch trees, one fault each -> exit 1 and a line naming file:line and the rule
#
# Each scratch tree holds only what the fault needs: the checker reads include
# lines, it compiles nothing.
set -euo pipefail
top=$(cd "${TOP:-.}" && pwd)
check=$top/tools/check-layers
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

"$check" "$top" >"$work/out" 2>&1 || { cat "$work/out"; fail "the tree itself breaks the layer rule"; }
echo "tree: $(tail -n 1 "$work/out")"

# expect NAME 'expected line (grep -F)': the scratch tree $work/NAME must be refused with that line.
expect() {
	local name=$1 want=$2 rc=0
	"$check" "$work/$name" >"$work/$name.out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || { cat "$work/$name.out"; fail "$name: exit $rc, want 1"; }
	grep -qF -- "$want" "$work/$name.out" || { cat "$work/$name.out"; fail "$name: no line '$want'"; }
	echo "$name: refused: $want"
}
# file TREE PATH LINES...: write a file of include lines into a scratch tree.
file() {
	local tree=$1 path=$2
	shift 2
	mkdir -p "$(dirname "$work/$tree/$path")"
	printf '%s\n' "$@" >"$work/$tree/$path"
}

file up firmware/policy/policy.h '/* nothing */'
file up firmware/packet/pipeline.c '#include <stdint.h>' '#include "policy/policy.h"'
expect up 'firmware/packet/pipeline.c:2: includes "policy/policy.h": packet/ may not call up into policy/'

file cycle firmware/core/a.h '#include "core/b.h"'
file cycle firmware/core/b.h '#include "core/c.h"'
file cycle firmware/core/c.h '#include "core/a.h"'
expect cycle 'include cycle: firmware/core/a.h -> firmware/core/b.h -> firmware/core/c.h -> firmware/core/a.h'

file sibling firmware/report/spool.h '#include "console/cli.h"'
file sibling firmware/console/cli.h '#include "report/spool.h"'
expect sibling 'include cycle: firmware/console/cli.h -> firmware/report/spool.h -> firmware/console/cli.h'

file driver firmware/packet/flow.h '/* nothing */'
file driver drivers/pcap.c '#include "core/port.h"' '#include "packet/flow.h"'
expect driver 'drivers/pcap.c:2: includes "packet/flow.h": drivers/ implement interfaces of firmware/core only'

file ndpi firmware/policy/policy.c '#include <ndpi_api.h>'
expect ndpi 'firmware/policy/policy.c:1: includes <ndpi_api.h>: only the dpi module sees nDPI'

file flat firmware/gateway.c '/* nothing */'
expect flat 'firmware/gateway.c: sits flat in firmware/'

# Going down, sideways without a cycle, and a driver on core pass.
file fine firmware/core/port.h '/* nothing */'
file fine firmware/app/main.c '#include "core/port.h"' '#include "report/spool.h"'
file fine firmware/report/spool.h '#include "console/cli.h"'
file fine firmware/console/cli.h '/* nothing */'
file fine drivers/pcap.c '#include "core/port.h"' '#include <pcap/pcap.h>'
"$check" "$work/fine" >"$work/fine.out" 2>&1 || { cat "$work/fine.out"; fail "a tree that keeps the rule was refused"; }
echo "fine: accepted"
