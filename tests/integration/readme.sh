#!/usr/bin/env bash
# The README's commands run as written, in order, on a fresh machine
# (issue 11, defect 11): every fenced ```sh block of README.md is run with
# bash -e in one scratch directory that holds only `build` (the tree this
# test runs from, as `make` left it); the first block that fails fails the
# test, named by its README line and first command.
#
# An HTML comment on the line before a block says how to take it:
#   <!-- readme-test: skip (reason) -->         not run (the reason is printed)
#   <!-- readme-test: file NAME -->             the block is a file: written to NAME
#   <!-- readme-test: private-etc (reason) -->  run as root in a private mount
#                                               namespace with /etc behind a throwaway
#                                               overlay (the block writes /etc/townguard);
#                                               skipped, saying so, when not root
# Blocks of other languages (ini, text) are examples, not commands.
set -euo pipefail
top=$(cd "${TOP:-.}" && pwd)
. "$top/tests/lib.sh"
make_work
cd "$work"
ln -s "$top/${BUILD:-build}" build
mkdir blocks

# README.md -> blocks/NNN.{sh,file,skip,etc} and blocks/NNN.info ("LINE what")
/usr/bin/python3 - "$top/README.md" blocks <<'PY'
import re, sys
readme, out = sys.argv[1], sys.argv[2]
lines = open(readme, encoding="utf-8").read().split("\n")
mark = re.compile(r"^<!-- readme-test: (skip|file|private-etc)\b\s*(.*?)\s*-->$")
n, i = 0, 0
while i < len(lines):
    m = re.match(r"^```(\w*)\s*$", lines[i])
    if not m:
        i += 1
        continue
    lang, start = m.group(1), i + 1
    j = start
    while j < len(lines) and lines[j] != "```":
        j += 1
    if j == len(lines):
        sys.exit(f"README.md:{start}: a fenced block that never ends")
    body = "\n".join(lines[start:j]) + "\n"
    prev = lines[i - 1] if i else ""
    pm = mark.match(prev)
    kind = pm.group(1) if pm else None
    if lang == "sh" or kind:
        n += 1
        first = next((l for l in lines[start:j] if l.strip()), "")
        if kind == "file":
            ext, what = "file", pm.group(2)
        elif kind in ("skip", "private-etc"):
            ext, what = ("skip" if kind == "skip" else "etc"), pm.group(2)
        else:
            ext, what = "sh", ""
        if kind != "file" and lang != "sh":
            sys.exit(f"README.md:{i + 1}: a readme-test mark on a ```{lang} block")
        open(f"{out}/{n:03d}.{ext}", "w").write(body)
        open(f"{out}/{n:03d}.info", "w").write(f"{start}\t{first.strip()}\t{what}\n")
    i = j + 1
PY

compgen -G 'blocks/*.info' >/dev/null || fail "README.md has no fenced command blocks (\`\`\`sh)"
ran=0 skipped=0 files=0
for f in blocks/*.info; do
	b=${f%.info}
	IFS=$'\t' read -r line first what <"$f"
	where="README.md:$line block \"$first\""
	if [ -e "$b.skip" ]; then
		echo "skip  $where: $what"
		skipped=$((skipped + 1))
		continue
	fi
	if [ -e "$b.file" ]; then
		cp "$b.file" "$what"
		echo "file  $what (README.md:$line)"
		files=$((files + 1))
		continue
	fi
	echo "run   $where"
	rc=0
	if [ -e "$b.etc" ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "skip  $where: not root ($what)"
			skipped=$((skipped + 1))
			continue
		fi
		mkdir -p etc-up etc-work
		unshare -m bash -c 'mount -t overlay overlay -o lowerdir=/etc,upperdir="$1",workdir="$2" /etc &&
			exec bash -e -o pipefail "$3"' _ "$work/etc-up" "$work/etc-work" "$b.etc" \
			>"$b.out" 2>&1 || rc=$?
	else
		bash -e -o pipefail "$b.sh" >"$b.out" 2>&1 || rc=$?
	fi
	sed "s/^/      | /" "$b.out" | tail -n 12
	[ "$rc" = 0 ] || fail "$where exited $rc"
	ran=$((ran + 1))
done
[ "$ran" -ge 3 ] || fail "only $ran README blocks ran: the extraction lost them?"

# What the blocks made is what the README says they make.
[ -s capture.pcap ] || fail "no capture.pcap"
grep -q '^accepted: region north, serial 1,' blocks/*.out || fail "the bundle install did not accept b1.bundle"
grep -q '^in force (data/bundle/current)' blocks/*.out || fail "bundle status shows no list in force"
[ ! -e etc-up/townguard ] || [ -s etc-up/townguard/pki/gateways/gw-township-2/hub.pub ] ||
	fail "provision gave gw-township-2 no hub.pub"
echo "README: $ran command blocks ran, $files files written, $skipped skipped (reasons above)"
