#!/usr/bin/python3
"""A slow HTTPS download with a pinned address, for tests/lab/rejudge_checks.sh.

    slow_get.py NAME ADDR CAFILE OUT RATE

GET /big.bin from ADDR:443 with SNI and Host NAME (certificate checked against
CAFILE), reading at most RATE bytes per second in 16 KiB reads with a small
receive buffer, so the download lasts seconds whatever the link can do (curl's
--limit-rate lets bursts through). The body goes to OUT as it arrives. Exit 0
when the whole body (Content-Length) arrived, 1 with the error on stderr
otherwise: "ConnectionResetError: reset after N of M bytes" when the
connection was reset (its TCP state is CLOSE: Python's ssl module reports a
reset as an end of data), "ConnectionError: closed ..." for a FIN.
"""
import socket
import ssl
import sys
import time

TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8  # tcpi_state (linux/tcp.h)


def ended(sock, got, length):
    """The connection gave no more data: reset (state CLOSE) or closed by the server (a FIN)."""
    state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    if state == TCP_CLOSE:
        return ConnectionResetError("reset after %d of %d bytes" % (got, length))
    return ConnectionError("closed (TCP state %d) after %d of %d bytes" % (state, got, length))


def main():
    name, addr, cafile, out, rate = sys.argv[1:6]
    rate = int(rate)
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    raw.settimeout(30)
    raw.connect((addr, 443))
    s = ctx.wrap_socket(raw, server_hostname=name)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: " + name.encode() + b"\r\nConnection: close\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the headers ended")
        head += chunk
    head, body = head.split(b"\r\n\r\n", 1)
    length = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    if length is None:
        raise ValueError("no Content-Length in: %r" % head[:200])
    start, got = time.monotonic(), len(body)
    with open(out, "wb", buffering=0) as f:
        f.write(body)
        while got < length:
            try:
                chunk = s.recv(16384)
            except ssl.SSLError:
                chunk = b""
            if not chunk:
                raise ended(s, got, length)
            f.write(chunk)
            got += len(chunk)
            ahead = got / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the test reads the reason
        print("%s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
