#!/usr/bin/env python3
"""A numbered UDP train for the batching tests (tests/integration/inline_batch.sh).

  udp_train.py recv ADDR PORT COUNT OUT   receive until COUNT datagrams or 5 s
                                          of silence; write a report to OUT
  udp_train.py send ADDR PORT COUNT BURST [flows] [from=I] [sport=P] [stop=PID:K]
                                          send COUNT datagrams, BURST at a time
                                          with 2 ms between bursts; with
                                          "flows", each from a new socket (a
                                          new source port: a new flow);
                                          from=I numbers them from I on
                                          (default 0); sport=P sends from
                                          port P (with "flows": P + i), so
                                          two runs can be one flow and no
                                          "flows" port is used twice;
                                          stop=PID:K stops process PID
                                          (SIGSTOP) while the first K go,
                                          then lets it go on (SIGCONT): a
                                          gateway that fell behind, as on
                                          a loaded CPU, with K queued

Datagram i carries i (4 bytes, big-endian) and bytes that depend on i only, of
a length that depends on i (64 to 1400 bytes), so a frame cut, merged, mixed
up with another or sent twice shows. The report says how many arrived, how
many were whole, and how many arrived out of order or twice.
"""
import hashlib
import os
import signal
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


def sock(sport):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    if sport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("", sport))
    return s


def send(addr, port, count, burst, flows, first, sport, stop):
    s = sock(sport)
    if stop:
        os.kill(stop[0], signal.SIGSTOP)
    try:
        for i in range(first, first + count):
            if stop and i == first + stop[1]:
                os.kill(stop[0], signal.SIGCONT)
            if flows:
                s.close()
                s = sock(sport + i if sport else 0)
            s.sendto(payload(i), (addr, port))
            if (i + 1) % burst == 0:
                time.sleep(0.002)
    finally:
        if stop:
            os.kill(stop[0], signal.SIGCONT)


if __name__ == "__main__":
    cmd, addr, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if cmd == "recv":
        recv(addr, port, count, sys.argv[5])
    else:
        opts = dict(a.split("=", 1) for a in sys.argv[6:] if "=" in a)
        send(addr, port, count, int(sys.argv[5]), "flows" in sys.argv[6:],
             int(opts.get("from", 0)), int(opts.get("sport", 0)),
             [int(x) for x in opts["stop"].split(":")] if "stop" in opts else None)
