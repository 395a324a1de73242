#!/usr/bin/env bash
# The qemu-x86_64 image in the lab: its two NICs are tap devices in the
# gateway namespace, bridged there to tg-lan and tg-wan (so the VM's eth0 and
# eth1 stand where the lab's townguard would), and the same checks run
# through it: a blocked name gets NXDOMAIN from the VM, an allowed HTTPS
# download is byte-identical, and the uplink (DHCP, SNTP, mutual TLS) connects
# to the lab's Mosquitto and reports its serial in the fleet state.
set -uo pipefail
MODE=bridge
. "${TOP:-.}/tests/lab/inline_checks.sh"
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { echo "skipped: no mosquitto"; exit 77; }
[ -f "$TOP/build/qemu-x86_64/rootfs.squashfs" ] ||
	{ echo "skipped: no image in build/qemu-x86_64 (make test-images)"; exit 77; }
LAB_PREFIX=tgI
inline_setup
hub_lab_up
. "$TOP/tests/image/vm.sh"
trap 'lib_exit; inline_cleanup' EXIT
vm_image qemu-x86_64

# The data partition: the lab's configuration with the board's ports and data directory.
sed -e "s|^data_dir = .*|data_dir = /data|" -e 's|^lan = tg-lan|lan = eth0|' -e 's|^wan = tg-wan|wan = eth1|' \
	"$work/gw.ini" >"$work/data/townguard.ini"
vm_mkdata "$work/data" "$work/vm-data.ext4"
img_data=$work/vm-data.ext4

gw() { ip -n "$NS_GW" "$@"; }
for side in lan wan; do
	gw tuntap add "vm-$side" mode tap || fail "tap vm-$side"
	gw link add "br-$side" type bridge stp_state 0 forward_delay 0 || fail "bridge br-$side"
	gw link set "tg-$side" master "br-$side" && gw link set "vm-$side" master "br-$side" || fail "enslave $side"
	gw link set "vm-$side" up && gw link set "br-$side" up || fail "up $side"
done
VM_EXEC="ip netns exec $NS_GW"
vm_start --append tg.failsafe=0 --net tap:vm-lan,vm-wan
must_boot
grep -q 'blocklist in force: /data/bundle/current, serial 1' "$work/tg.log" || fail "serial 1 not in force"
grep -q 'running: mode bridge on eth0 and eth1' "$work/tg.log" || fail "not bridging eth0 and eth1"
echo "ok: the VM bridges the lab with serial 1 in force"
wait_for 30 lan ping -c 1 -W 0.5 "$ALLOWED_IP" >/dev/null 2>&1 || fail "no ping through the VM"

out=$(lan dig +tries=2 +time=3 @"$DNS_IP" blocked.test A)
grep -q 'status: NXDOMAIN' <<<"$out" || fail "blocked.test: no NXDOMAIN through the VM: $out"
grep -q 'query\[A\] blocked.test' "$LABDIR/dnsmasq.log" && fail "blocked.test query reached the server"
echo "ok: blocked.test NXDOMAIN from the VM"
lan dig +short +tries=2 +time=3 @"$DNS_IP" allowed.test A | grep -qx "$ALLOWED_IP" || fail "allowed.test did not resolve"
sum=$(lan curl -sS --max-time 60 --cacert "$CA" --resolve "allowed.test:443:$ALLOWED_IP" \
	https://allowed.test/big.bin | sha256sum | cut -d' ' -f1)
[ "$sum" = "$FILE_SHA256" ] || fail "allowed HTTPS download through the VM differs ($sum)"
echo "ok: allowed.test over HTTPS through the VM, byte-identical ($FILE_SIZE bytes)"

vm_logwait 'uplink\] info: connected to 10.99.0.1:8883 as gw:lab:gw-lab' 90 || fail "the VM's uplink did not connect"
line=
for _ in $(seq 30); do
	line=$(ip netns exec "$NS_WAN" "$hub" fleet "${HUB[@]}" --wait 1 --json 2>/dev/null | grep '"gw-lab"') &&
		grep -q '"online":true' <<<"$line" && grep -q '"serial":1' <<<"$line" && break
	sleep 1
done
grep -q '"online":true' <<<"$line" && grep -q '"serial":1' <<<"$line" || fail "fleet: the VM not online at serial 1: $line"
echo "ok: the VM's uplink: DHCP, SNTP, mutual TLS to Mosquitto; fleet shows it online at serial 1"
