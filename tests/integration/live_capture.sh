#!/usr/bin/env bash
# Live capture through the event loop, on a veth pair between two network
# namespaces this script creates (and removes on exit):
#
#   [tgcap-cli] 10.77.0.1/24 veth tgcap0  <---->  veth tgcap1 10.77.0.2/24 [tgcap-srv]
#        townguard capture tgcap0                  dnsmasq (DNS), python3 http.server
#        dig, curl, ping
#
# Passes when townguard, stopped by SIGTERM, reports the DNS flow with the
# queried name, the HTTP flow with its Host, and the ICMP flow, with packet
# counts that match what the clients sent. The gateway starts with a bundle
# already on flash (installed with `townguard bundle install`) listing
# tracker.office.example: its DNS query gets a verdict; a later HTTP
# connection to the address that name resolved to is judged by its own Host
# (on no list: no verdict), and a TCP connection that names nothing, to the
# same address, by the DNS binding alone.
set -euo pipefail
top=${TOP:-.}
. "$top/tests/lib.sh"
tg=$top/${BUILD:-build}/townguard
[ "$(id -u)" = 0 ] || { echo "skipped: needs root for network namespaces"; exit 77; }
make_work
cli=tgcap-cli-$$ srv=tgcap-srv-$$
on_exit() {
	[ -n "${tgpid:-}" ] && kill "$tgpid" 2>/dev/null || true
	ip netns pids "$srv" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$cli" 2>/dev/null || true
	ip netns del "$srv" 2>/dev/null || true
}

ip netns add "$cli"
ip netns add "$srv"
ip link add tgcap0 netns "$cli" type veth peer name tgcap1 netns "$srv"
ip -n "$cli" addr add 10.77.0.1/24 dev tgcap0
ip -n "$srv" addr add 10.77.0.2/24 dev tgcap1
ip -n "$cli" link set tgcap0 up; ip -n "$cli" link set lo up
ip -n "$srv" link set tgcap1 up; ip -n "$srv" link set lo up

ip netns exec "$srv" dnsmasq --no-daemon --no-resolv --no-hosts --port=53 \
	--listen-address=10.77.0.2 --bind-interfaces \
	--address=/office.example/10.77.0.2 --pid-file="$work/dnsmasq.pid" \
	>"$work/dnsmasq.log" 2>&1 &
mkdir -p "$work/www" && echo "hello township" >"$work/www/index.html"
(cd "$work/www" && exec ip netns exec "$srv" /usr/bin/python3 -m http.server 8080 --bind 10.77.0.2) \
	>"$work/http.log" 2>&1 &
wait_for 5 ip netns exec "$cli" bash -c 'exec 3<>/dev/tcp/10.77.0.2/8080' 2>/dev/null || true

# The hub's bundle, installed on the gateway's flash before it starts.
hub=$top/${BUILD:-build}/tg-hub
mkdir -p "$work/data/keys"
"$hub" keygen --out "$work/hub" >/dev/null
cp "$work/hub/hub.pub" "$work/data/keys/hub.pub"
echo tracker.office.example >"$work/block.txt"
"$hub" build --key "$work/hub/hub.key" --region lab --serial 1 --out "$work/lab.bundle" \
	domains:"$work/block.txt",rule=77 >/dev/null
gw=(-o gateway.data_dir="$work/data" -o gateway.region=lab)
"$tg" bundle install "$work/lab.bundle" "${gw[@]}" | grep -q '^accepted'

ip netns exec "$cli" "$tg" capture tgcap0 --flows "${gw[@]}" >"$work/flows.json" 2>"$work/tg.log" &
tgpid=$!
wait_log "$work/tg.log" 'capturing' 5 || true
grep -q capturing "$work/tg.log" || { cat "$work/tg.log"; exit 1; }
grep -q 'blocklist in force: .*/bundle/current, serial 1' "$work/tg.log"

ip netns exec "$cli" dig +short +tries=1 +time=2 @10.77.0.2 www.office.example A >"$work/dig.out"
grep -qx 10.77.0.2 "$work/dig.out"
ip netns exec "$cli" curl -sS --max-time 5 -H 'Host: intranet.office.example' \
	http://10.77.0.2:8080/index.html | grep -q 'hello township'
ip netns exec "$cli" ping -c 3 -i 0.2 -q 10.77.0.2 >/dev/null
ip netns exec "$cli" dig +short +tries=1 +time=2 @10.77.0.2 tracker.office.example A | grep -qx 10.77.0.2
ip netns exec "$cli" curl -sS --max-time 5 -H 'Host: intranet.office.example' \
	http://10.77.0.2:8080/index.html | grep -q 'hello township'
# No request line, no name: only the binding can judge it.
ip netns exec "$cli" bash -c 'exec 3<>/dev/tcp/10.77.0.2/8080; printf "hello\r\n\r\n" >&3; cat <&3 >/dev/null'

sleep 0.5
kill -TERM "$tgpid"
wait "$tgpid"
tgpid=
cat "$work/tg.log"
cat "$work/flows.json"

/usr/bin/python3 - "$work/flows.json" <<'PY'
import json, sys
flows = [json.loads(l) for l in open(sys.argv[1])]
def find(**kw):
    return [f for f in flows if all(f.get(k) == v for k, v in kw.items())]
dns = find(l4="UDP", dport=53, dst="10.77.0.2", host="www.office.example")
assert len(dns) == 1 and dns[0]["proto"] == "DNS", f"DNS flow: {dns}"
assert dns[0]["c2s_packets"] == 1 and dns[0]["s2c_packets"] == 1, dns
assert dns[0]["verdict"] is None, dns
tracker = find(l4="UDP", dport=53, host="tracker.office.example")
assert len(tracker) == 1, tracker
assert tracker[0]["verdict"] == {"action": "block", "rule": 77, "indicator": "tracker.office.example",
                                 "stage": "dns"}, tracker
http = sorted(find(l4="TCP", dport=8080, dst="10.77.0.2", host="intranet.office.example"),
              key=lambda f: f["first_ms"])
raw = find(l4="TCP", dport=8080, dst="10.77.0.2", host=None)
assert len(raw) == 1 and raw[0]["verdict"] == {"action": "block", "rule": 77,
    "indicator": "tracker.office.example", "stage": "dns_binding"}, raw
assert len(http) == 2, f"HTTP flows: {http}"
for f in http:
    assert f["proto"] == "HTTP" and f["host"] == "intranet.office.example", f
    assert f["src"] == "10.77.0.1", f
assert http[0]["verdict"] is None, http[0]     # before the listed name was resolved
# After it: the address is bound to tracker.office.example, but this flow names
# its own host, intranet.office.example, which is on no list (docs/policy.md).
assert http[1]["verdict"] is None, http[1]
icmp = find(l4="ICMP", dst="10.77.0.2")
assert len(icmp) == 1 and icmp[0]["proto"] == "ICMP", icmp
assert icmp[0]["c2s_packets"] == 3 and icmp[0]["s2c_packets"] == 3, icmp
print("live capture: DNS, HTTP and ICMP flows reported as sent; the flash bundle judged a query, and a named flow to a bound address by its own name")
PY
