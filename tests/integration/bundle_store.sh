#!/usr/bin/env bash
# The gateway's acceptance rules and its bundle on flash, through
# `townguard bundle install/status`:
#   serial 1 accepted; then forged (another key), wrong region, replayed older
#   serial, truncated file, one flipped byte, expired, and a delta on the wrong
#   base are each refused with their own reason while serial 1 stays in force;
#   a delta 1->2 is applied; a corrupted current falls back to previous at
#   start, and says so.
# Issue 11 (each fails on the main before it):
#   1: with current corrupt and previous in force, a good bundle keeps
#      previous (never the refused file); corrupt current again: a list stays;
#   5: a region refusal names both regions; replay without a hub key warns
#      about the region;
#   6: replay with a refused bundle prints no totals;
#   7: status and install print ISO 8601 times, and a first install does not
#      say "no list in force";
#   8: the replay's bundle line counts protocols, categories and JA3 hashes.
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
# 7: a first install is not "no list in force"; times are ISO 8601 as tg-hub prints them
out=$("$tg" bundle install s1.bundle -o gateway.data_dir="$work/data" -o gateway.region=north 2>&1)
grep -q '^accepted: region north, serial 1, created 20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]*Z, expires 20[0-9-]*T[0-9:]*Z, sha256 ' <<<"$out" ||
	{ echo "install: no ISO 8601 times: $out"; exit 1; }
if grep -q "no list in force" <<<"$out"; then echo "a successful first install said: $out"; exit 1; fi
"$tg" bundle status "${opts[@]}" | grep -q 'serial 1, created 20[0-9-]*T[0-9:]*Z, expires ' ||
	{ echo "status: no ISO 8601 times"; exit 1; }

build forged.bundle --key otherkeys/hub.key --serial 5 domains:b.txt
expect_refused signature forged.bundle
REGION=south build south.bundle --key hubkeys/hub.key --serial 5 domains:b.txt
expect_refused region south.bundle
# 5: both regions named
out=$("$tg" bundle install south.bundle -o gateway.data_dir="$work/data" -o gateway.region=north 2>&1 || true)
grep -q 'bundle for region "south", this gateway is in region "north"' <<<"$out" ||
	{ echo "region refusal names neither region: $out"; exit 1; }
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

# 1: current corrupt, previous (serial 1) in force: a good serial 3 keeps previous serial 1
build s3b.bundle --key hubkeys/hub.key --serial 3 domains:b.txt
"$tg" bundle install s3b.bundle "${opts[@]}" | grep -q '^accepted: region north, serial 3,'
cmp data/bundle/current s3b.bundle
cmp data/bundle/previous s1.bundle || { echo "a refused current became previous"; exit 1; }
printf '\x00' | dd of=data/bundle/current bs=1 seek=100 conv=notrunc status=none
"$tg" bundle status "${opts[@]}" 2>/dev/null | grep -q 'serial 1,' ||
	{ echo "current corrupt again: no list in force"; exit 1; }

# 5, 6, 8: replay --bundle with the demo capture
"$build/tg-pcapgen" demo demo.pcap >/dev/null
printf 'BitTorrent\n' >p.txt
printf 'Mining\n' >c.txt
printf 'b386946a5a44d1ddcc843bc75336dfce\n' >j.txt
build kinds.bundle --key hubkeys/hub.key --serial 9 domains:b.txt protocols:p.txt categories:c.txt ja3:j.txt
"$tg" replay demo.pcap --bundle kinds.bundle -o gateway.region=north -o bundle.hub_key=hubkeys/hub.pub \
	>totals.txt 2>replay.log
grep -q 'bundle kinds.bundle: region north, serial 9, 2 domains, 0 IPv4 and 0 IPv6 prefixes, 1 protocols, 1 categories, 1 JA3 hashes' replay.log ||
	{ echo "replay bundle summary: $(cat replay.log)"; exit 1; }
[ -s totals.txt ] || { echo "replay printed no totals"; exit 1; }
if "$tg" replay demo.pcap --bundle south.bundle -o gateway.region=north -o bundle.hub_key=hubkeys/hub.pub \
	>refused.out 2>refused.log; then
	echo "replay accepted a bundle of another region"; exit 1
fi
grep -q 'bundle for region "south", this gateway is in region "north"' refused.log ||
	{ echo "replay region refusal: $(cat refused.log)"; exit 1; }
[ ! -s refused.out ] || { echo "a refused replay printed totals: $(cat refused.out)"; exit 1; }
"$tg" replay demo.pcap --bundle south.bundle -o gateway.region=north -o gateway.data_dir="$work/nokey" \
	>/dev/null 2>nokey.log
grep -q 'signature NOT checked' nokey.log
grep -q 'for region "south", not this gateway'"'"'s "north"' nokey.log ||
	{ echo "replay without a hub key: no word on the region: $(cat nokey.log)"; exit 1; }
echo "bundle store: 7 refusals each with its reason, delta applied, fallback to previous;"
echo "  previous kept across a refused current, regions named, ISO times, replay summary and refusal"
