#!/usr/bin/env bash
# Manual end-to-end check of the "nfqueue" inline driver (drivers/nfq.c,
# drivers/nfq_rules.c) and drivers/link.c through the
# harness tests/manual/nfq_demo.c, in three network namespaces this script
# creates and removes (not run by make test):
#
#   [tgnfq-cli-PID]              [tgnfq-gw-PID]                          [tgnfq-srv-PID]
#   cli0 10.99.0.1/24 --veth-- lan0 -+- tgnfq0 (bridge) -+- wan0 --veth-- srv0 10.99.0.2/24
#        fd99::1/64                  nfq_demo: nfq_open() creates the         fd99::2/64
#   curl, ping, iperf3               bridge, rules, queue 7; link monitor     http.server :80 :8080 :9999
#                                                                             iperf3 -s
#
# Checks, in order: forwarding with every packet accepted in userspace (IPv4
# and IPv6) and the synthesized Ethernet headers; link monitor messages;
# per-packet drop; clean close (rules and bridge gone); offloaded downloads
# (one queued packet per connection); a blocked port; a connection blocked
# on its first payload whose retransmissions are no longer queued; SIGKILL
# during ping and iperf3 (traffic goes on within 1 s); takeover of the rules
# a killed run left; and packets per second through the queue.
#
# Usage (root, after `make` so that build/include exists):
#   tests/manual/nfq_demo.sh
# The harness is compiled into a temporary directory from its source and
# the nfqueue driver's files, drivers/inline.c, drivers/link.c and core's log and siphash.
# "A && B || fail": fail exits, so this is if-then-else here.
# shellcheck disable=SC2015
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
[ "$(id -u)" = 0 ] || { echo "skipped: needs root for network namespaces"; exit 77; }
work=$(mktemp -d)
cli=tgnfq-cli-$$ gw=tgnfq-gw-$$ srv=tgnfq-srv-$$
hpid=

cleanup() {
	for ns in "$cli" "$gw" "$srv"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$work/h.log" ] && tail -n 20 "$work/h.log"; exit 1; }
ok() { echo "ok: $*"; }
C() { ip netns exec "$cli" "$@"; }
G() { ip netns exec "$gw" "$@"; }

# ---------------------------------------------------------------- build
cflags="-std=gnu11 -O2 -g -D_GNU_SOURCE -I$top/firmware -I$top/drivers -I$top/board/host \
	-I$top/$build/include $(pkg-config --cflags libnl-3.0) -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef"
# shellcheck disable=SC2086,SC2046
gcc $cflags -o "$work/nfq_demo" "$top/tests/manual/nfq_demo.c" "$top"/drivers/nfq*.c \
	"$top/drivers/inline.c" "$top/drivers/link.c" "$top/firmware/core/log.c" "$top/firmware/core/siphash.c" \
	$(pkg-config --libs libnl-3.0 libnl-route-3.0 libnl-nf-3.0) || fail "harness does not build"

# ---------------------------------------------------------------- namespaces
for ns in "$cli" "$gw" "$srv"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
# The link monitor check takes srv0 down and up: keep its IPv6 address over that.
ip netns exec "$srv" sysctl -qw net.ipv6.conf.default.keep_addr_on_down=1
ip link add cli0 netns "$cli" type veth peer name lan0 netns "$gw"
ip link add srv0 netns "$srv" type veth peer name wan0 netns "$gw"
ip -n "$cli" addr add 10.99.0.1/24 dev cli0
ip -n "$cli" addr add fd99::1/64 dev cli0 nodad
ip -n "$srv" addr add 10.99.0.2/24 dev srv0
ip -n "$srv" addr add fd99::2/64 dev srv0 nodad
ip -n "$cli" link set cli0 up
ip -n "$srv" link set srv0 up
cli_mac=$(C cat /sys/class/net/cli0/address)
srv_mac=$(ip netns exec "$srv" cat /sys/class/net/srv0/address)

mkdir -p "$work/www"
head -c 20000000 /dev/urandom >"$work/www/big"
echo hello >"$work/www/small"
for port in 80 8080 9999; do
	ip netns exec "$srv" /usr/bin/python3 -m http.server --bind :: --directory "$work/www" \
		"$port" >/dev/null 2>&1 &
done
ip netns exec "$srv" iperf3 -s -D
sleep 1

# ---------------------------------------------------------------- helpers
start() {
	: >"$work/h.log"
	ip netns exec "$gw" "$work/nfq_demo" "$@" lan0 wan0 >>"$work/h.log" 2>&1 &
	hpid=$!
	for _ in $(seq 50); do
		grep -q '^ready' "$work/h.log" && return 0
		kill -0 "$hpid" 2>/dev/null || fail "harness did not start"
		sleep 0.1
	done
	fail "harness not ready"
}
stop() {
	kill -TERM "$hpid"; wait "$hpid"; hpid=
	grep -q '^closed' "$work/h.log" || fail "harness did not close"
}
# counter NAME...: those counters, from one fresh stats line
counter() {
	local line f out=()
	kill -USR1 "$hpid"; sleep 0.3
	line=$(grep '^stats' "$work/h.log" | tail -n 1)
	for f in "$@"; do out+=("$(tr ' ' '\n' <<<"$line" | sed -n "s/^$f=//p")"); done
	echo "${out[*]}"
}
jumps() { G "$1" -t mangle -S FORWARD 2>/dev/null | grep -c -- '-j TOWNGUARD'; }
get() { C curl -g -sS -o "$work/got" --max-time "${2:-10}" -w '%{http_code}' "$1"; }

# ---------------------------------------------------------------- 1. accept every packet
start -v
C ping -c 2 -i 0.2 -W 1 10.99.0.2 >/dev/null || fail "IPv4 ping through the queue"
C ping -c 2 -i 0.2 -W 1 fd99::2 >/dev/null || fail "IPv6 ping through the queue"
[ "$(get http://10.99.0.2/small)" = 200 ] || fail "IPv4 HTTP through the queue"
[ "$(get 'http://[fd99::2]/small')" = 200 ] || fail "IPv6 HTTP through the queue"
snap=$(counter packets accept)
n=${snap% *}; [ "$n" -gt 10 ] || fail "only $n packets queued"
[ "${snap#* }" = "$n" ] || fail "not every packet accepted ($snap)"
ok "ping and HTTP over IPv4 and IPv6, $n packets queued and accepted one by one"
grep -q "dst=$cli_mac src=$srv_mac type=0800" "$work/h.log" &&
	grep -q "dst=$srv_mac src=$cli_mac type=0800" "$work/h.log" &&
	grep -q "dst=$cli_mac src=$srv_mac type=86dd" "$work/h.log" ||
	fail "synthesized headers lack the learned MACs"
ok "synthesized Ethernet headers carry the learned MACs both ways"
[ "$(jumps iptables)" = 1 ] && [ "$(jumps ip6tables)" = 1 ] || fail "jump rules"
G iptables -t mangle -S TOWNGUARD | grep -q -- '--queue-num 7 --queue-bypass' || fail "NFQUEUE rule"
ok "rules installed (one jump each for iptables and ip6tables)"

# ---------------------------------------------------------------- 2. link monitor
G ip link set wan0 down; sleep 0.3
grep -q '^link wan0 exists=1 up=0' "$work/h.log" || fail "no admin down event"
G ip link set wan0 up; sleep 0.3
grep -q '^link wan0 exists=1 up=1 carrier=1' "$work/h.log" || fail "no link up event"
ip -n "$srv" link set srv0 down; sleep 0.3
grep -q '^link wan0 exists=1 up=1 carrier=0' "$work/h.log" || fail "no carrier lost event"
ip -n "$srv" link set srv0 up; sleep 0.3
[ "$(grep -c '^link wan0' "$work/h.log")" = 4 ] || fail "link events repeated or missing"
grep -q 'wan0: link down (carrier lost)' "$work/h.log" || fail "carrier log line"
ok "link monitor: admin down/up, carrier lost/back, each reported once"
C ping -c 1 -W 2 10.99.0.2 >/dev/null || fail "forwarding after link changes"

# ---------------------------------------------------------------- 3. per-packet drop, close
stop
start -d 9999
[ "$(get http://10.99.0.2:9999/small 3)" = 000 ] || fail "port 9999 not dropped"
d=$(counter drop); [ "$d" -ge 2 ] || fail "dropped SYN retransmissions not queued again ($d)"
ok "NFQ_DROP: the SYN and its $((d - 1)) retransmission(s) each queued and dropped"
stop
[ "$(jumps iptables)" = 0 ] && [ "$(jumps ip6tables)" = 0 ] || fail "jump left after close"
G iptables -t mangle -S TOWNGUARD >/dev/null 2>&1 && fail "chain left after close"
G ip link show tgnfq0 >/dev/null 2>&1 && fail "bridge left after close"
ok "close removed the rules and the bridge it created"

# ---------------------------------------------------------------- 4. offload
start -m offload -D 8080 -K 9999
for url in http://10.99.0.2/big 'http://[fd99::2]/big'; do
	before=$(counter packets)
	[ "$(get "$url")" = 200 ] && cmp -s "$work/got" "$work/www/big" || fail "download $url"
	n=$(($(counter packets) - before))
	# The connection's first packet, and neighbour discovery (each its own flow); not ~17000.
	[ "$n" -le 8 ] || fail "offloaded download of 20 MB queued $n packets"
	ok "offloaded 20 MB download ($url): $n packet(s) queued"
done
before=$(counter packets)
[ "$(get http://10.99.0.2:8080/small 3)" = 000 ] || fail "port 8080 not blocked"
n=$(($(counter packets) - before))
[ "$(counter offload_drop)" -ge 1 ] || fail "no offload drop"
ok "NFQ_OFFLOAD_DROP on a SYN: blocked; $n packets queued, since the retransmitted SYNs come back (no conntrack entry keeps the mark of a connection whose first packet was dropped)"
before=$(counter packets); bd=$(counter offload_drop)
[ "$(get http://10.99.0.2:9999/small 4)" = 000 ] || fail "connection on 9999 not blocked"
n=$(($(counter packets) - before)); nd=$(($(counter offload_drop) - bd))
[ "$nd" = 1 ] || fail "request retransmissions were queued again ($nd offload drops, $n packets)"
ok "NFQ_OFFLOAD_DROP on the first payload: connection blocked in the kernel, retransmissions not queued ($n packets queued)"
stop

# ---------------------------------------------------------------- 5. SIGKILL: fail-open
start
C iperf3 -c 10.99.0.2 -t 4 -i 0.5 -J >"$work/iperf.json" 2>&1 &
ipid=$!
C ping -D -i 0.01 -c 300 10.99.0.2 >"$work/ping.log" 2>&1 &
ppid=$!
sleep 1.5
[ "$(counter packets)" -gt 1000 ] || fail "traffic not going through the queue before the kill"
kill -KILL "$hpid"; wait "$hpid" 2>/dev/null; hpid=
[ "$(get http://10.99.0.2/small 1)" = 200 ] || fail "new connection after SIGKILL"
wait "$ipid" || fail "iperf3 failed after SIGKILL"
wait "$ppid"
/usr/bin/python3 - "$work/ping.log" "$work/iperf.json" <<'PY' || fail "traffic stalled after SIGKILL"
import json, re, sys
ts = [float(m) for m in re.findall(r'^\[(\d+\.\d+)\] \d+ bytes from', open(sys.argv[1]).read(), re.M)]
gap = max(b - a for a, b in zip(ts, ts[1:]))
print("ping: %d of 300 replies, longest gap %.3f s" % (len(ts), gap))
iv = [(i["sum"]["start"], i["sum"]["bytes"]) for i in json.load(open(sys.argv[2]))["intervals"]]
print("iperf3 (start s, bytes):", iv)
if gap >= 1.0 or min(b for s, b in iv) == 0:
    sys.exit(1)
PY
ok "SIGKILL: ping and iperf3 went on (queue bypass, fail-open), new connection accepted"

# ---------------------------------------------------------------- 6. takeover after a crash
[ "$(jumps iptables)" = 1 ] || fail "the killed run's rules are gone?"
start -s 500
[ "$(jumps iptables)" = 1 ] && [ "$(jumps ip6tables)" = 1 ] || fail "jump duplicated on takeover"
C ping -c 2 -i 0.2 -W 1 10.99.0.2 >/dev/null || fail "ping after takeover"
[ "$(counter packets)" -ge 4 ] || fail "nothing queued after takeover"
ok "restart after SIGKILL took over bridge and rules (one jump each), packets queued again"

# ---------------------------------------------------------------- 7. packets per second
# Every packet verdicted in userspace; harness and sender on different CPUs if there are two.
[ "$(nproc)" -ge 2 ] && taskset -p 2 "$hpid" >/dev/null
C taskset 1 iperf3 -c 10.99.0.2 -u -b 0 -l 64 -t 5 -A 0 >/dev/null 2>&1
sleep 0.6
best=$(grep '^stats' "$work/h.log" | sed -n 's/.*pps=//p' | sort -n | tail -n 1)
echo "info: best half-second through the queue: $best packets/s (64-byte UDP, every packet verdicted)"
ov=$(counter overruns)
echo "info: socket overruns during the flood: $ov"
stop
G ip link show tgnfq0 >/dev/null 2>&1 || fail "bridge of the killed run removed by a run that did not create it"
ok "close after takeover kept the bridge it had not created"
echo "PASS"
