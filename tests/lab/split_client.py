#!/usr/bin/env python3
"""A client that splits its request where a gateway would rather it did not.

    split_client.py tls|http NAME ADDR PORT SPLIT [--ca CA] [--pause S] [--timeout S]

tls:  a real ClientHello from Python's ssl module (through ssl.MemoryBIO),
      written in two segments with TCP_NODELAY and a pause between them.
      SPLIT is "sni" (in the middle of the server_name's host name) or
      "ext" (inside the server_name extension, before the host name).
      On success the handshake is finished and GET / is sent.
http: GET / with a Host header, split "host" (in the middle of the name)
      or "before" (just before the Host line).

Prints the local port on the first line ("port N"), then either the
response body after "body:" (the request went through) or "refused: why".
Exit status 0 in both cases; 2 for a usage error.
"""
import argparse
import socket
import ssl
import sys
import time


TIMEOUT = 3.0


def connect(addr, port):
    s = socket.create_connection((addr, port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print("port", s.getsockname()[1], flush=True)
    return s


def send_split(s, data, at, pause):
    s.sendall(data[:at])
    time.sleep(pause)
    s.sendall(data[at:])


def recv_all(s):
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            break
        out += b
    return out


def http(a):
    req = (b"GET / HTTP/1.1\r\nUser-Agent: split-client\r\nAccept: */*\r\n"
           b"Host: " + a.name.encode() + b"\r\nConnection: close\r\n\r\n")
    if a.split == "host":
        at = req.index(b"Host: ") + 6 + len(a.name) // 2
    else:
        at = req.index(b"Host: ")
    s = connect(a.addr, a.port)
    try:
        send_split(s, req, at, a.pause)
        resp = recv_all(s)
    except OSError as e:
        print("refused:", e)
        return
    if not resp:
        print("refused: closed without an answer")
        return
    head, _, body = resp.partition(b"\r\n\r\n")
    print("status:", head.split(b"\r\n")[0].decode(errors="replace"))
    sys.stdout.write("body:")
    sys.stdout.flush()
    sys.stdout.buffer.write(body)


def tls(a):
    ctx = ssl.create_default_context(cafile=a.ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=a.name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    name = a.name.encode()
    # the host_name entry: type 0, a 2-byte length, the name
    start = hello.index(b"\x00" + bytes([len(name)]) + name) + 2
    if a.split == "sni":
        at = start + len(name) // 2
    else:
        # inside the server_name extension: between its list length and the entry
        at = start - 3
    s = connect(a.addr, a.port)
    try:
        send_split(s, hello, at, a.pause)
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                if out.pending:
                    s.sendall(out.read())
                b = s.recv(65536)
                if not b:
                    print("refused: closed during the handshake")
                    return
                inc.write(b)
        if out.pending:
            s.sendall(out.read())
        obj.write(b"GET / HTTP/1.1\r\nHost: " + name + b"\r\nConnection: close\r\n\r\n")
        s.sendall(out.read())
        resp = b""
        while True:
            try:
                resp += obj.read(65536)
                continue
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            b = s.recv(65536)
            if not b:
                break
            inc.write(b)
    except (OSError, ssl.SSLError) as e:
        print("refused:", e)
        return
    head, _, body = resp.partition(b"\r\n\r\n")
    print("status:", head.split(b"\r\n")[0].decode(errors="replace"))
    sys.stdout.write("body:")
    sys.stdout.flush()
    sys.stdout.buffer.write(body)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["tls", "http"])
    p.add_argument("name")
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("split", choices=["sni", "ext", "host", "before"])
    p.add_argument("--ca")
    p.add_argument("--pause", type=float, default=0.2)
    p.add_argument("--timeout", type=float, default=3.0, help="per socket operation (3 s)")
    a = p.parse_args()
    global TIMEOUT
    TIMEOUT = a.timeout
    (tls if a.kind == "tls" else http)(a)


if __name__ == "__main__":
    main()
