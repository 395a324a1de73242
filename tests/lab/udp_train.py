#!/usr/bin/env python3
"""A numbered UDP train for the batching tests (tests/integration/inline_batch.sh).

  udp_train.py recv ADDR PORT COUNT OUT   receive until COUNT datagrams or 5 s
                                          of silence; write a report to OUT
  udp_train.py send ADDR PORT COUNT BURST [flows]
                                          send COUNT datagrams, BURST at a time
                                          with 2 ms between bursts; with
                                          "flows", each from a new socket (a
                                          new source port: a new flow)

Datagram i carries i (4 bytes, big-endian) and bytes that depend on i only, of
a length that depends on i (64 to 1400 bytes), so a frame cut, merged, mixed
up with another or sent twice shows. The report says how many arrived, how
many were whole, and how many arrived out of order or twice.
"""
import hashlib
import socket
import sys
import time


def payload(i):
    n = 64 + (i * 97) % 1337
    seed = hashlib.sha256(i.to_bytes(4, "big")).digest()
    body = (seed * (n // len(seed) + 1))[: n - 4]
    return i.to_bytes(4, "big") + body


def recv(addr, port, count, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((addr, port))
    s.settimeout(5)
    with open(out + ".ready", "w"):
        pass
    got = whole = disorder = dup = 0
    last = -1
    seen = set()
    while got < count:
        try:
            d = s.recv(2048)
        except socket.timeout:
            break
        got += 1
        i = int.from_bytes(d[:4], "big")
        if d == payload(i):
            whole += 1
        if i in seen:
            dup += 1
        seen.add(i)
        if i < last:
            disorder += 1
        last = max(last, i)
    with open(out, "w") as f:
        f.write(f"got {got} whole {whole} out_of_order {disorder} duplicates {dup}\n")


def send(addr, port, count, burst, flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    for i in range(count):
        if flows:
            s.close()
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(payload(i), (addr, port))
        if (i + 1) % burst == 0:
            time.sleep(0.002)


if __name__ == "__main__":
    cmd, addr, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if cmd == "recv":
        recv(addr, port, count, sys.argv[5])
    else:
        send(addr, port, count, int(sys.argv[5]), sys.argv[6:] == ["flows"])
