#!/usr/bin/env bash
# nfqueue mode in the lab (tests/lab): the kernel bridges tg-lan and tg-wan
# (bridge created by townguard through libnl), the first packets of each flow
# come to townguard through NFQUEUE, decided flows are offloaded by conntrack
# mark. The same checks as bridge mode (allowed traffic byte-identical,
# NXDOMAIN, SNI/Host/address/binding refused within 100 ms, nothing blocked
# on the WAN capture), then fail-open: townguard is killed with SIGKILL during
# an iperf3 run and traffic, old and new connections, goes on within 1 s.
set -uo pipefail
MODE=nfqueue
. "${TOP:-.}/tests/lab/inline_checks.sh"

inline_setup
inline_start
wan_capture_start
check_allowed
check_blocked
check_block_logged_once
wan_capture_stop
check_wan_capture

# Offload: the allowed download did not go packet by packet through the queue.
ip netns exec "$NS_GW" iptables-save -t mangle | grep -q 'NFQUEUE --queue-num 7' ||
	fail "no NFQUEUE rule installed"

# Fail-open: SIGKILL in the middle of an iperf3 run.
lan iperf3 -c "$ALLOWED_IP" -t 5 -i 0.5 -J >"$work/iperf.json" 2>&1 &
iperf_pid=$!
sleep 2
kill -KILL "$tgpid"; wait "$tgpid" 2>/dev/null; tgpid=
killed_at=$(date +%s.%N)
# A new connection after the kill: the queue has no listener, the kernel bypasses it.
t=$(lan curl -sS -o /dev/null --max-time 1 --cacert "$CA" --resolve "allowed.test:443:$ALLOWED_IP" \
	-w '%{time_total}' https://allowed.test/) || fail "new connection after SIGKILL failed"
echo "ok: new HTTPS connection ${t}s after SIGKILL"
lan dig +short +tries=1 +time=1 @"$DNS_IP" allowed.test A | grep -qx "$ALLOWED_IP" ||
	fail "DNS after SIGKILL"
wait "$iperf_pid" || fail "iperf3 failed: $(tail -n 5 "$work/iperf.json")"
/usr/bin/python3 - "$work/iperf.json" <<'PY' || fail "iperf3 stalled after SIGKILL"
import json, sys
r = json.load(open(sys.argv[1]))
iv = [(i["sum"]["start"], i["sum"]["bytes"]) for i in r["intervals"]]
print("iperf3 intervals (start s, bytes):", iv)
# The kill came at about 2 s; from 3 s on, every half second must carry data.
late = [b for s, b in iv if s >= 3.0]
if not late or min(late) == 0:
    sys.exit("an interval after the kill carried nothing")
PY
echo "ok: traffic continued after SIGKILL"
echo "PASS"
