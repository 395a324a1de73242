#!/usr/bin/env bash
# The gateway's acceptance rules and its bundle on flash, through
# `townguard bundle install/status`:
#   serial 1 accepted; then forged (another key), wrong region, replayed older
#   serial, truncated file, one flipped byte, expired, and a delta on the wrong
#   base are each refused with their own reason while serial 1 stays in force;
#   a delta 1->2 is applied; a corrupted current falls back to previous at
#   start, and says so.
set -euo pipefail
. "${TOP:-.}/tests/lib.sh"
build=${TOP:-.}/${BUILD:-build}
tg=$build/townguard hub=$build/tg-hub
make_work
cd "$work"
mkdir -p data/keys
"$hub" keygen --out hubkeys >/dev/null
"$hub" keygen --out otherkeys >/dev/null
cp hubkeys/hub.pub data/keys/hub.pub
opts=(-o gateway.data_dir="$work/data" -o gateway.region=north -q)
printf 'one.example\n' >a.txt
printf 'one.example\ntwo.example\n' >b.txt
build() { "$hub" build --region "${REGION:-north}" --out "$1" "${@:2}" >/dev/null; }
build s1.bundle --key hubkeys/hub.key --serial 1 domains:a.txt
build s2.bundle --key hubkeys/hub.key --serial 2 domains:b.txt
build s3.bundle --key hubkeys/hub.key --serial 3 domains:a.txt
"$hub" diff --key hubkeys/hub.key s1.bundle s2.bundle --out d12.delta >/dev/null
"$hub" diff --key hubkeys/hub.key s2.bundle s3.bundle --out d23.delta >/dev/null

expect_refused() { # expect_refused REASON FILE
	local out
	if out=$("$tg" bundle install "$2" "${opts[@]}" 2>&1); then
		echo "accepted $2, expected refusal ($1): $out"; exit 1
	fi
	grep -q "refused: $1" <<<"$out" || { echo "$2: wanted '$1', got: $out"; exit 1; }
	"$tg" bundle status "${opts[@]}" | grep -q 'serial 1,' || { echo "serial 1 no longer in force after $2"; exit 1; }
}

{ "$tg" bundle status "${opts[@]}" || true; } | grep -q "no list in force"
"$tg" bundle install s1.bundle "${opts[@]}" | grep -q '^accepted: region north, serial 1,'

build forged.bundle --key otherkeys/hub.key --serial 5 domains:b.txt
expect_refused signature forged.bundle
REGION=south build south.bundle --key hubkeys/hub.key --serial 5 domains:b.txt
expect_refused region south.bundle
build old.bundle --key hubkeys/hub.key --serial 1 domains:b.txt
expect_refused stale old.bundle
head -c "$(($(stat -c %s s2.bundle) - 7))" s2.bundle >truncated.bundle
expect_refused truncated truncated.bundle
cp s2.bundle flipped.bundle
printf '\xff' | dd of=flipped.bundle bs=1 seek=200 conv=notrunc status=none
expect_refused hash flipped.bundle
build expired.bundle --key hubkeys/hub.key --serial 5 --created 1000000000 --expires 1000086400 domains:b.txt
expect_refused expired expired.bundle
expect_refused base d23.delta

# A delta on the right base yields the full bundle the hub signed.
"$tg" bundle install d12.delta "${opts[@]}" | grep -q '^accepted: region north, serial 2,'
cmp data/bundle/current s2.bundle
cmp data/bundle/previous s1.bundle

# A torn or altered current is refused at start; previous takes over.
printf '\x00' | dd of=data/bundle/current bs=1 seek=100 conv=notrunc status=none
out=$("$tg" bundle status -o gateway.data_dir="$work/data" -o gateway.region=north 2>&1)
grep -q 'current refused' <<<"$out"
grep -q 'falling back to .*previous (serial 1)' <<<"$out"
grep -q 'serial 1,' <<<"$out"
echo "bundle store: 7 refusals each with its reason, delta applied, fallback to previous"
