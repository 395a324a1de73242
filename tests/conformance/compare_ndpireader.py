#!/usr/bin/env python3
"""Compare `townguard replay --flows` with ndpiReader's -w output, flow by flow.

A flow is identified as ndpiReader identifies it: IP protocol, VLAN and the
unordered pair of (address, port) endpoints. ndpiReader lists only the flows
still in its table when the capture ends (it drops flows idle for 30 s without
printing them), so when townguard reports several flows with one key (a
connection that ended and started again) the latest one's protocol is
compared, and the packets and bytes of all of them are added up.

Two checks, each over the reference flows, each must reach --min-agreement:
the protocol, and the packet and byte counts (both directions). Exit status 0
when both do.
"""
import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys

COUNTS_RE = re.compile(r"\[(\d+) pkts/(\d+) bytes (?:<->|->) (\d+) pkts/(\d+) bytes\]")
FLOW_RE = re.compile(
    r"^\t\d+\t(?P<l4>\S+) (?P<src>\[[^\]]+\]|[^ \[]+):(?P<sport>\d+) (?:<->|->) "
    r"(?P<dst>\[[^\]]+\]|[^ \[]+):(?P<dport>\d+) (?:\[VLAN: (?P<vlan>\d+)\])?"
    r"\[proto: (?:[^\]/]*:)?[\d.]+/(?P<proto>[^\]]+)\]"
)


def patch_v6(addr):
    """ndpiReader's ndpi_patchIPv6Address: every ':0:' becomes '::'."""
    out, i = [], 0
    while i < len(addr):
        if addr[i:i + 3] == ":0:":
            out.append("::")
            i += 3
        else:
            out.append(addr[i])
            i += 1
    return "".join(out)


def norm_addr(addr):
    addr = addr.strip("[]")
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        return addr  # a patched address that no longer parses: compare as text


def key(l4, a, ap, b, bp, vlan):
    return (l4, int(vlan or 0), frozenset([(a, int(ap)), (b, int(bp))]))


def reference_flows(path):
    flows = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = FLOW_RE.match(line)
            if not m:
                continue
            k = key(m["l4"], norm_addr(m["src"]), m["sport"], norm_addr(m["dst"]),
                    m["dport"], m["vlan"])
            c = COUNTS_RE.search(line)
            counts = (int(c[1]) + int(c[3]), int(c[2]) + int(c[4])) if c else None
            flows[k] = (m["proto"], counts)
    return flows


def townguard_flows(tg, capture, ndpi_dir):
    res = subprocess.run([tg, "replay", capture, "--flows", "--quiet", "--ndpi-dir", ndpi_dir],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"townguard replay {capture} exited {res.returncode}: {res.stderr[-2000:]}")
    flows = {}
    for line in res.stdout.splitlines():
        o = json.loads(line)
        src, dst = o["src"], o["dst"]
        if o["ip"] == 6:
            src, dst = norm_addr(patch_v6(src)), norm_addr(patch_v6(dst))
        k = key(o["l4"], src, o["sport"], dst, o["dport"], o["vlan"])
        prev = flows.get(k)
        if prev is None:
            flows[k] = dict(o, all_packets=o["packets"], all_bytes=o["bytes"])
        else:
            latest = o if o["first_ms"] >= prev["first_ms"] else prev
            flows[k] = dict(latest, all_packets=prev["all_packets"] + o["packets"],
                            all_bytes=prev["all_bytes"] + o["bytes"])
    return flows


def fmt(k):
    l4, vlan, ends = k
    ends = sorted(ends)
    s = f"{l4} {ends[0][0]}:{ends[0][1]} <-> {ends[-1][0]}:{ends[-1][1]}"
    return s + (f" vlan {vlan}" if vlan else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--townguard", required=True)
    ap.add_argument("--pcaps", required=True)
    ap.add_argument("--min-agreement", type=float, default=0.99)
    args = ap.parse_args()

    ndpi_dir = os.path.join(args.pcaps, "ndpi-config")
    captures = sorted(f for f in os.listdir(args.pcaps) if f.endswith((".pcap", ".pcapng")))
    total = agree = counted = 0
    problems = []
    for cap in captures:
        exp_path = os.path.join(args.pcaps, "expected", cap + ".ndpireader.txt")
        if not os.path.exists(exp_path):
            continue
        ref = reference_flows(exp_path)
        ours = townguard_flows(args.townguard, os.path.join(args.pcaps, cap), ndpi_dir)
        ok = 0
        for k, (proto, counts) in sorted(ref.items(), key=lambda kv: fmt(kv[0])):
            o = ours.get(k)
            if o is None:
                problems.append(f"{cap}: {fmt(k)}: ndpiReader {proto}, townguard has no such flow")
                continue
            if o["proto"] != proto:
                problems.append(f"{cap}: {fmt(k)}: ndpiReader {proto}, townguard {o['proto']}")
            else:
                ok += 1
            if counts == (o["all_packets"], o["all_bytes"]):
                counted += 1
            else:
                problems.append(f"{cap}: {fmt(k)}: ndpiReader {counts[0]} pkts/{counts[1]} bytes, "
                                f"townguard {o['all_packets']} pkts/{o['all_bytes']} bytes")
        extra = [k for k in ours if k not in ref]
        for k in extra:
            problems.append(f"{cap}: {fmt(k)}: townguard {ours[k]['proto']} "
                            f"({ours[k]['packets']} pkts), not listed by ndpiReader (not counted)")
        total += len(ref)
        agree += ok
        print(f"{cap:34s} {ok:4d}/{len(ref):<4d} agree, {len(extra)} extra")

    rate = agree / total if total else 0.0
    count_rate = counted / total if total else 0.0
    print()
    for p in problems:
        print("  " + p)
    print(f"\nprotocol agreement: {agree}/{total} reference flows = {100 * rate:.2f}% "
          f"(required {100 * args.min_agreement:.0f}%)")
    print(f"packet and byte counts: {counted}/{total} reference flows = {100 * count_rate:.2f}% "
          f"(required {100 * args.min_agreement:.0f}%)")
    return 0 if rate >= args.min_agreement and count_rate >= args.min_agreement else 1


if __name__ == "__main__":
    sys.exit(main())
