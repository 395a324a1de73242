#!/usr/bin/env bash
# The management stack (lwIP, drivers/lwip/mgmt.c) on a live link, run by
# tests/lwip/mgmt_probe through the pcap port driver, in two network
# namespaces this script creates (and removes on exit):
#
#   [tgm-gw-<pid>]                                [tgm-srv-<pid>]
#   veth tgmg<pid>  <-------------------------->  veth tgms<pid> 10.88.0.1/24
#     no IPv4 (nor IPv6) in the kernel:            dnsmasq: DHCP 10.88.0.50-.99 (router,
#     mgmt_probe, MAC 02:74:67:88:00:01,             DNS and NTP = 10.88.0.1), DNS
#     lwIP owns the management identity             probe.test = 10.88.0.7, ntp.test = 10.88.0.1
#                                                  SNTP (python) on 10.88.0.1:123 answering
#                                                    2026-01-02 03:04:05 UTC = 1767323045
#
# Passes when, with DHCP: the address lwIP reports is in the range and is
# the one dnsmasq's lease file records for the management MAC and host name;
# probe.test resolves through lwIP's resolver to 10.88.0.7; SNTP (server from
# the lease, option 42) reports exactly 1767323045 and the stack's clock
# reads that time (the offset was applied, the system clock was not set);
# the server can ping lwIP's address; the kernel never had an IPv4 address
# on the gateway's end; and the lease is released when the stack closes.
# Then the same with a static address, DNS server and NTP server by name.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "skipped: needs root for network namespaces and raw capture"; exit 77; }
top=$(cd "${TOP:-.}" && pwd)
. "$top/tests/lib.sh"
probe=$top/${BUILD:-build}/tests/mgmt_probe
[ -x "$probe" ] || { echo "skipped: $probe not built (make; it needs CONFIG_DRIVER_PCAP)"; exit 77; }

gw=tgm-gw-$$ srv=tgm-srv-$$ gwif=tgmg$$ srvif=tgms$$
mac=02:74:67:88:00:01
sntp_time=1767323045 # 2026-01-02 03:04:05 UTC
make_work
on_exit() {
	for ns in "$gw" "$srv"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
	done
	ip netns del "$gw" 2>/dev/null || true
	ip netns del "$srv" 2>/dev/null || true
}
on_fail() {
	for f in "$work"/*.out "$work"/*.err "$work"/dnsmasq.log "$work"/sntp.log; do
		show_log "$f"
	done
}

ip netns add "$gw"
ip netns add "$srv"
ip link add "$gwif" netns "$gw" address 02:74:67:88:00:fe type veth peer name "$srvif" netns "$srv"
ip netns exec "$gw" sysctl -qw "net.ipv6.conf.$gwif.disable_ipv6=1"
ip -n "$gw" link set "$gwif" up
ip -n "$srv" addr add 10.88.0.1/24 dev "$srvif"
ip -n "$srv" link set "$srvif" up
# veth leaves checksums to "hardware" that never runs: without this the
# server's UDP/TCP frames reach the capture with partial checksums, which
# lwIP rightly drops. A real NIC fills them in on the wire.
ip netns exec "$srv" ethtool -K "$srvif" tx off >/dev/null
ip -n "$srv" link set lo up

ip netns exec "$srv" dnsmasq --no-daemon --no-resolv --no-hosts --port=53 --user=root \
	--interface="$srvif" --bind-interfaces --listen-address=10.88.0.1 \
	--dhcp-range=10.88.0.50,10.88.0.99,255.255.255.0,1h --dhcp-authoritative \
	--dhcp-leasefile="$work/leases" --dhcp-option=option:router,10.88.0.1 \
	--dhcp-option=option:dns-server,10.88.0.1 --dhcp-option=option:ntp-server,10.88.0.1 \
	--address=/probe.test/10.88.0.7 --host-record=ntp.test,10.88.0.1 --log-dhcp \
	>"$work/dnsmasq.log" 2>&1 &

# A fixed-time SNTP server (tests/lab/sntp_server.py).
ip netns exec "$srv" /usr/bin/python3 "${TOP:-.}/tests/lab/sntp_server.py" 10.88.0.1 "$sntp_time" >"$work/sntp.log" 2>&1 &
wait_log "$work/sntp.log" listening 5 || fail "SNTP server did not start"
wait_log "$work/dnsmasq.log" 'DHCP, IP range' 5 || fail "dnsmasq did not start"

# run_probe NAME PROBE-ARGS...: start the probe in the gateway namespace; it holds
# the stack up for 4 s after it has everything.
run_probe() {
	local name=$1
	shift
	ip netns exec "$gw" "$probe" --iface "$gwif" --mac "$mac" --resolve probe.test \
		--timeout 30 --hold 4 "$@" >"$work/$name.out" 2>"$work/$name.err" &
	probe_pid=$!
	wait_log "$work/$name.out" '^done$' 30 || fail "$name: the probe did not finish"
}
field() { sed -n "s/^$2 //p" "$work/$1.out" | head -n 1; }

check_common() {
	local name=$1 addr=$2
	expect "$name: resolve through lwIP's DNS" "probe.test 10.88.0.7" "$(field "$name" resolve)"
	expect "$name: SNTP time" "$sntp_time" "$(field "$name" time)"
	local clock
	clock=$(field "$name" clock)
	[ -n "$clock" ] && [ "$clock" -ge "$sntp_time" ] && [ "$clock" -le $((sntp_time + 5)) ] ||
		fail "$name: the stack's clock reads [$clock], not the SNTP time $sntp_time"
	echo "ok: $name: the stack's clock runs from the SNTP time ($clock)"
	[ "$(date +%s)" -lt "$sntp_time" ] || [ "$(date +%s)" -gt $((sntp_time + 600)) ] ||
		fail "$name: the system clock is near the fake SNTP time: cannot tell it was not set"
	ip netns exec "$srv" ping -c 2 -i 0.2 -W 2 -q "$addr" >/dev/null || fail "$name: no answer to ping $addr"
	echo "ok: $name: lwIP answers ping on $addr"
	expect "$name: no IPv4 address in the gateway's kernel" "" \
		"$(ip -n "$gw" -4 -o addr show dev "$gwif")"
	wait "$probe_pid" || fail "$name: the probe exited with $?"
	grep -q '^stats rx [1-9][0-9]* tx [1-9][0-9]* dropped [0-9]* tx_errors 0$' "$work/$name.out" ||
		fail "$name: bad stats line: $(grep '^stats' "$work/$name.out")"
	grep -Eq 'ERROR|runtime error|AddressSanitizer' "$work/$name.err" && fail "$name: sanitizer report"
	echo "ok: $name: probe exited cleanly ($(grep '^stats' "$work/$name.out"))"
}

# --- DHCP: address, DNS server and NTP server from the lease
run_probe dhcp --hostname tg-probe
addr=$(field dhcp address)
case $addr in
10.88.0.[5-9][0-9]) echo "ok: dhcp: address $addr is in 10.88.0.50-99" ;;
*) fail "dhcp: address [$addr] is not in 10.88.0.50-99" ;;
esac
wait_log "$work/leases" " $mac $addr " 5 || fail "dhcp: no lease for $mac in $(cat "$work/leases")"
expect "dhcp: dnsmasq's lease (MAC address host name)" "$mac $addr tg-probe" \
	"$(awk -v m="$mac" '$2 == m { print $2, $3, $4 }' "$work/leases")"
grep -q "answered $addr:" "$work/sntp.log" || fail "dhcp: SNTP server saw no request from $addr"
check_common dhcp "$addr"
for _ in $(seq 30); do
	grep -q " $mac " "$work/leases" || break
	sleep 0.1
done
grep -q " $mac " "$work/leases" && fail "dhcp: the lease was not released on close"
echo "ok: dhcp: lease released when the stack closed"

# --- static: address, DNS server and NTP server (by name) configured
run_probe static --static 10.88.0.20 --netmask 255.255.255.0 --gateway 10.88.0.1 \
	--dns 10.88.0.1 --ntp ntp.test
expect "static: address" "10.88.0.20" "$(field static address)"
grep -q "answered 10.88.0.20:" "$work/sntp.log" || fail "static: SNTP server saw no request from 10.88.0.20"
check_common static 10.88.0.20
grep -q ' 10.88.0.20 ' "$work/leases" && fail "static: a DHCP lease for the static address"
echo "management stack: DHCP and static identities, DNS and SNTP on lwIP, kernel without an address"
