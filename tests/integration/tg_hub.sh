#!/usr/bin/env bash
# tg-hub end to end, as a hub operator uses it:
#
#   keygen ─► build (feeds of every format, some bad lines) ─► verify ─► show --lookup
#                 │                                               (other key, region, stale: refused)
#                 └─► build serial 2 (one feed changed) ─► diff 1 2 ─► show delta
#   build --strict with bad lines: refused, nothing written
#   issue 11 (each fails on the main before it): 2 an error page or an empty
#   feed refused unless --allow-empty / --allow-bad; 3 keygen and provision
#   --out with missing parents; 9 a provision rerun keeps mosquitto.conf's
#   paths and gives the new gateway hub.pub; 10 per-source counts of taken,
#   skipped and bad lines, the hosts trailing comment remarked
#
# Times are fixed (--created, --now) so the output is the same on every run;
# the summaries and lookups are compared with golden text below. Byte counts
# and hashes depend on the bundle encoder and are masked.
set -euo pipefail
top=$(cd "${TOP:-.}" && pwd)
. "$top/tests/lib.sh"
hub=$top/${BUILD:-build}/tg-hub
make_work
cd "$work" # file names in messages stay short: "domains.txt:4: ..."

CREATED=1767225600 # 2026-01-01T00:00:00Z
NOW=1767229200     # an hour later
# golden FILE: FILE (bytes and hashes masked) must equal stdin
golden() {
	sed -E 's/[0-9]+ bytes/N bytes/g; s/^(sha256 +).*/\1HASH/' "$1" >got
	diff -u - got || fail "$1 differs from the golden text above"
}

# ---------------------------------------------------------------- keys
run 0 "$hub" keygen --out keys
[ "$(stat -c %a keys/hub.key)" = 600 ] || fail "hub.key mode $(stat -c %a keys/hub.key)"
[ -s keys/hub.pub ] || fail "no hub.pub"
run 1 "$hub" keygen --out keys
has err "refusing to overwrite"
run 0 "$hub" keygen --out other

# ---------------------------------------------------------------- feeds
cat >domains.txt <<'EOF'
# regional blocklist
evil.example
*.ads.example
bad..example
Tracker.Example.
EOF
cat >allow.txt <<'EOF'
good.evil.example
EOF
cat >hosts.txt <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
0.0.0.0 malware.example phish.example # two names
0.0.0.0 evil.example
EOF
cat >drop.txt <<'EOF'
; Spamhaus DROP List
198.51.100.0/24 ; SBL1
203.0.113.0/25 ; SBL2
10.0.0.1/8 ; host bits set
2001:db8:bad::/48 ; SBL3
EOF
cat >stix.json <<'EOF'
{
  "type": "bundle",
  "id": "bundle--00000000-0000-4000-8000-000000000000",
  "objects": [
    {
      "type": "indicator",
      "id": "indicator--stix",
      "pattern": "[domain-name:value = 'stix.example']",
      "pattern_type": "stix",
      "valid_until": "2030-01-01T00:00:00Z"
    },
    {
      "type": "indicator",
      "id": "indicator--or",
      "pattern": "[ipv4-addr:value = '192.0.2.128/25' OR url:value = 'http://url.example/x']",
      "pattern_type": "stix"
    },
    {
      "type": "indicator",
      "id": "indicator--old",
      "pattern": "[domain-name:value = 'old.example']",
      "valid_until": "2025-06-01T00:00:00Z"
    },
    {
      "type": "indicator",
      "id": "indicator--revoked",
      "revoked": true,
      "pattern": "[domain-name:value = 'revoked.example']"
    },
    {
      "type": "indicator",
      "id": "indicator--hash",
      "pattern": "[file:hashes.MD5 = '44d88612fea8a8f36de82e1278abb02f']"
    }
  ]
}
EOF
printf '# peer to peer\nBitTorrent\nTikTok\n' >protocols.txt
printf 'Mining\n' >categories.txt
cat >ja3.csv <<'EOF'
# ja3_md5,Firstseen,Lastseen,Listingreason
b386946a5a44d1ddcc843bc75336dfce,2017-07-14 18:08:15,2019-07-27 20:42:54,Dridex
8916410db85077a5460817142dcbc8de,2017-07-14 18:08:15,2019-07-27 20:42:54,Tofsee
EOF
sources=(domains:domains.txt domains:allow.txt,action=allow hosts:hosts.txt cidr:drop.txt
	stix:stix.json protocols:protocols.txt categories:categories.txt,ttl=7
	ja3:ja3.csv,action=alert,rule=7001)

# ---------------------------------------------------------------- build 1
run 0 "$hub" build --key keys/hub.key --region north --serial 1 --created $CREATED \
	--out b1.tgb "${sources[@]}"
golden out <<'EOF'
wrote b1.tgb: region north, serial 1, full bundle, N bytes
created 2026-01-01T00:00:00Z, expires 2026-01-31T00:00:00Z
source 1 domains:domains.txt: rule 1001, block, 3 entries from 3 lines, 1 bad lines
source 2 domains:allow.txt,action=allow: rule 1002, allow, 1 entries from 1 lines, 0 bad lines
source 3 hosts:hosts.txt: rule 1003, block, 3 entries from 2 lines, 0 bad lines, 2 lines skipped (local names such as "localhost"), 1 with a trailing comment
source 4 cidr:drop.txt: rule 1004, block, 3 entries from 3 lines, 1 bad lines
source 5 stix:stix.json: rule 1005, block, 3 entries from 2 lines, 1 bad lines, 1 warnings
source 6 protocols:protocols.txt: rule 1006, block, 2 entries from 2 lines, 0 bad lines
source 7 categories:categories.txt,ttl=7: rule 1007, block, 1 entries from 1 lines, 0 bad lines
source 8 ja3:ja3.csv,action=alert,rule=7001: rule 7001, alert, 2 entries from 2 lines, 0 bad lines
              block    allow
ipv4              3        0
ipv6              1        0
domain            7        1
protocol          2        0
category          1        0
ja3               2        0
bad lines 3 (skipped), warnings 1, duplicates replaced 1
sha256 HASH
EOF
golden err <<'EOF'
domains.txt:4: "bad..example": empty label
hosts.txt:3: note: trailing comment "# two names" cut, the names before it taken (hosts lines are "ADDRESS NAME... # comment")
drop.txt:4: "10.0.0.1/8": host bits set; the network is 10.0.0.0/8
stix.json:20: warning: indicator--old: expired at 2025-06-01T00:00:00Z (valid_until), skipped
stix.json:32: indicator--hash: unsupported object path "file:hashes.MD5" (only domain-name, ipv4-addr, ipv6-addr and url values)
EOF

# ---------------------------------------------------------------- verify
run 0 "$hub" verify --pub keys/hub.pub --region north --serial-in-force 0 --now $NOW b1.tgb
has out "ok b1.tgb: region north, serial 1, full bundle, signature good"
run 1 "$hub" verify --pub other/hub.pub --now $NOW b1.tgb
has err "b1.tgb: refused: signature:"
run 1 "$hub" verify --pub keys/hub.pub --region south --now $NOW b1.tgb
has err "b1.tgb: refused: region:"
run 1 "$hub" verify --pub keys/hub.pub --region north --serial-in-force 1 --now $NOW b1.tgb
has err "b1.tgb: refused: stale:"
run 1 "$hub" verify --pub keys/hub.pub --now $((CREATED + 31 * 86400)) b1.tgb
has err "b1.tgb: refused: expired:"
head -c 100 b1.tgb >cut.tgb
run 1 "$hub" verify --pub keys/hub.pub --now $NOW cut.tgb
has err "cut.tgb: refused:"

# ---------------------------------------------------------------- show, lookups
run 0 "$hub" show b1.tgb --now $NOW \
	--lookup a.b.evil.example --lookup good.evil.example --lookup x.good.evil.example \
	--lookup 198.51.100.77 --lookup 2001:db8:bad:1::1 --lookup 192.0.2.200 --lookup 192.0.2.1 \
	--lookup url.example --lookup sub.url.example --lookup Stix.Example. \
	--lookup proto:bittorrent --lookup category:Mining \
	--lookup b386946a5a44d1ddcc843bc75336dfce --lookup unlisted.example
golden out <<'EOF'
file     b1.tgb
region   north
serial   1
type     full
created  2026-01-01T00:00:00Z
expires  2026-01-31T00:00:00Z
size     N bytes
sha256   HASH
              block    allow
ipv4              3        0
ipv6              1        0
domain            7        1
protocol          2        0
category          1        0
ja3               2        0
lookup a.b.evil.example (domain): block
  block list: rule 1003, action block, expires never, suffix evil.example
  allow list: no match
lookup good.evil.example (domain): allow
  block list: rule 1003, action block, expires never, suffix evil.example
  allow list: rule 1002, action allow, expires never, suffix good.evil.example
lookup x.good.evil.example (domain): allow
  block list: rule 1003, action block, expires never, suffix evil.example
  allow list: rule 1002, action allow, expires never, suffix good.evil.example
lookup 198.51.100.77 (ipv4): block
  block list: rule 1004, action block, expires never, prefix 198.51.100.0/24
  allow list: no match
lookup 2001:db8:bad:1::1 (ipv6): block
  block list: rule 1004, action block, expires never, prefix 2001:db8:bad::/48
  allow list: no match
lookup 192.0.2.200 (ipv4): block
  block list: rule 1005, action block, expires never, prefix 192.0.2.128/25
  allow list: no match
lookup 192.0.2.1 (ipv4): no match
  block list: no match
  allow list: no match
lookup url.example (domain): block
  block list: rule 1005, action block, expires never, exact name url.example
  allow list: no match
lookup sub.url.example (domain): no match
  block list: no match
  allow list: no match
lookup Stix.Example. (domain): block
  block list: rule 1005, action block, expires 2030-01-01T00:00:00Z, suffix Stix.Example
  allow list: no match
lookup proto:bittorrent (protocol): block
  block list: rule 1006, action block, expires never
  allow list: no match
lookup category:Mining (category): block
  block list: rule 1007, action block, expires 2026-01-08T00:00:00Z
  allow list: no match
lookup b386946a5a44d1ddcc843bc75336dfce (ja3): alert
  block list: rule 7001, action alert, expires never
  allow list: no match
lookup unlisted.example (domain): no match
  block list: no match
  allow list: no match
EOF
# the category's ttl has run out a week later: it no longer matches
run 0 "$hub" show b1.tgb --now $((CREATED + 8 * 86400)) --lookup category:Mining
has out "lookup category:Mining (category): no match"
run 2 "$hub" show b1.tgb --lookup 10.0.0.0/8
has err '--lookup "10.0.0.0/8": not an address'

# ---------------------------------------------------------------- serial 2, delta
sed -i 's/^Tracker.Example.$/new.example/' domains.txt
run 0 "$hub" build --key keys/hub.key --region north --serial 2 --created $((CREATED + 3600)) \
	--out b2.tgb "${sources[@]}"
has out "wrote b2.tgb: region north, serial 2, full bundle"
run 0 "$hub" diff --key keys/hub.key b1.tgb b2.tgb --out d12.tgb
has out "wrote d12.tgb: region north, delta from serial 1 to 2"
run 0 "$hub" show d12.tgb
has out "type     delta (base 1)"
has out "serial   2"
run 0 "$hub" verify --pub keys/hub.pub --region north --serial-in-force 1 --now $NOW d12.tgb
has out "ok d12.tgb: region north, delta 1 -> 2, signature good"
run 1 "$hub" verify --pub keys/hub.pub --serial-in-force 2 --now $NOW d12.tgb
has err "d12.tgb: refused: base:"
run 1 "$hub" diff --key keys/hub.key b2.tgb b1.tgb --out d21.tgb
has err "b1.tgb has serial 1, not newer than b2.tgb (serial 2)"
[ ! -e d21.tgb ] || fail "a refused diff wrote d21.tgb"
run 0 "$hub" show b2.tgb --now $((NOW + 3600)) --lookup x.new.example --lookup tracker.example
has out "lookup x.new.example (domain): block"
has out "lookup tracker.example (domain): no match"

# ---------------------------------------------------------------- refusals
run 1 "$hub" build --key keys/hub.key --region north --serial 3 --strict --out strict.tgb \
	"${sources[@]}"
has err "domains.txt:4: \"bad..example\": empty label"
has err "3 bad lines and --strict: no bundle written"
[ ! -e strict.tgb ] || fail "--strict wrote strict.tgb"
! ls strict.tgb.tmp.* >/dev/null 2>&1 || fail "--strict left a temporary file"
run 0 "$hub" build --key keys/hub.key --region north --serial 3 --strict --out strict.tgb \
	protocols:protocols.txt
printf '{"type": "bundle", "objects": [' >broken.json
run 1 "$hub" build --key keys/hub.key --region north --serial 4 --out broken.tgb stix:broken.json
has err "broken.json:1: invalid JSON:"
has err "broken.json: not usable as a stix feed; no bundle written"
[ ! -e broken.tgb ] || fail "an unusable feed still gave broken.tgb"
run 1 "$hub" build --key keys/hub.key --region north --serial 4 --out x.tgb domains:missing.txt
has err "missing.txt: cannot open"
run 2 "$hub" build --key keys/hub.key --region north --serial 4 --out x.tgb csv:drop.txt
has err 'source "csv:drop.txt": unknown format "csv"'
run 2 "$hub" build --key keys/hub.key --region north --serial 4 --out x.tgb \
	domains:domains.txt,action=drop
has err 'action "drop" is not block, alert or allow'
run 2 "$hub" build --key keys/hub.key --region North --serial 4 --out x.tgb domains:domains.txt
has err '--region "North"'
run 2 "$hub" build --key keys/hub.key --region north --serial 0 --out x.tgb domains:domains.txt
has err '--serial "0"'
# ---------------------------------------------------------------- issue 11
# 2: a feed that is an error page, or empty, lifts no blocks unless told
printf '<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n' >errpage.txt
: >empty.txt
run 1 "$hub" build --key keys/hub.key --region north --serial 5 --out e.tgb domains:errpage.txt
has err "errpage.txt: no entries (3 bad lines, 0 skipped, 0 warnings)"
has err "no bundle written (--allow-empty to build without them)"
run 1 "$hub" build --key keys/hub.key --region north --serial 5 --out e.tgb domains:domains.txt domains:empty.txt
has err "empty.txt: no entries (0 bad lines"
[ ! -e e.tgb ] || fail "an empty feed still gave e.tgb"
run 0 "$hub" build --key keys/hub.key --region north --serial 5 --out e.tgb --allow-empty domains:domains.txt domains:empty.txt
has out "source 2 domains:empty.txt: rule 1002, block, 0 entries from 0 lines, 0 bad lines"
printf 'ok.example\nbad..one\nbad..two\n' >mostly-bad.txt
run 1 "$hub" build --key keys/hub.key --region north --serial 5 --out m.tgb domains:mostly-bad.txt
has err "mostly-bad.txt: 2 of 3 lines bad (66%), more than the 50% allowed"
[ ! -e m.tgb ] || fail "a mostly bad feed still gave m.tgb"
run 0 "$hub" build --key keys/hub.key --region north --serial 5 --out m.tgb --allow-bad 70% domains:mostly-bad.txt
run 2 "$hub" build --key keys/hub.key --region north --serial 5 --out m.tgb --allow-bad lots domains:mostly-bad.txt
has err '--allow-bad "lots": expected a percentage 0..100'
# 10: per-source counts; the skipped local names and the trailing comment are said
run 0 "$hub" build --key keys/hub.key --region north --serial 5 --out h.tgb hosts:hosts.txt
has out '3 entries from 2 lines, 0 bad lines, 2 lines skipped (local names such as "localhost"), 1 with a trailing comment'
has err 'hosts.txt:3: note: trailing comment "# two names" cut'
# 3: keygen and provision make the missing parents of --out
run 0 "$hub" keygen --out fresh/etc/townguard/hub
[ -s fresh/etc/townguard/hub/hub.pub ] || fail "keygen --out with missing parents"
[ "$(stat -c %a fresh/etc/townguard/hub)" = 700 ] || fail "the key directory is not 0700"
run 0 "$hub" provision --out fresh/etc/townguard/pki --region north --broker-host mqtt.north.example \
	--broker-dir /etc/mosquitto/townguard --port 8884 --gateways gw-1 \
	--hub-pub fresh/etc/townguard/hub/hub.pub
# 9: a rerun to add a gateway keeps the broker's paths and port, and the new gateway gets hub.pub
run 0 "$hub" provision --out fresh/etc/townguard/pki --region north --broker-host mqtt.north.example \
	--gateways gw-2
conf=fresh/etc/townguard/pki/broker/mosquitto.conf
has $conf "acl_file /etc/mosquitto/townguard/acl"
has $conf "listener 8884"
cmp -s fresh/etc/townguard/hub/hub.pub fresh/etc/townguard/pki/gateways/gw-2/hub.pub ||
	fail "the new gateway's folder lacks hub.pub"
has fresh/etc/townguard/pki/broker/acl "user gw:north:gw-2"
run 1 "$hub" provision --out fresh/etc/townguard/pki --region north --broker-host mqtt.north.example \
	--hub-pub other/hub.pub
has err "differs from fresh/etc/townguard/pki/hub.pub, the bundle key of the earlier runs"

run 2 "$hub" frobnicate
has err 'unknown command "frobnicate"'
run 0 "$hub" help
for c in keygen build diff verify show help; do has out "  $c "; done
echo "tg-hub: keygen, build (7 feed formats), verify, show --lookup, diff, refusals;"
echo "  empty and error-page feeds refused, per-source counts, --out parents, provision rerun"
