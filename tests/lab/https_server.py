#!/usr/bin/python3
"""The lab's web servers: HTTPS (443) and HTTP (80) on every server address,
plus a UDP echo on the QUIC port, all in one process.

Started by tests/lab/lab in the WAN namespace; not meant to be run by hand.

Why it looks the way it does:

- One process, one thread per listening socket, one thread per connection
  (ThreadingHTTPServer): parallel clients and a slow TLS handshake never hold
  up the others. The TLS handshake runs in the connection's thread, not in
  accept(), for the same reason.
- The certificate is chosen by SNI (SSLContext.sni_callback) among the lab's
  names; a client that sends no SNI, or one the lab does not know, gets the
  certificate of the address it connected to (--default ADDR=NAME), so
  `curl https://10.99.0.3/` still shows ip-blocked.test.
- "/" answers "townguard lab: <Host>\n" so a test sees which name the server
  was asked for; every other path is a file under --dir (big.bin).
- Every request is logged as one line on stderr: local address, client,
  SNI, Host, request line, status. Tests grep it to prove a request did, or
  did not, reach the server.
- The UDP echo (--udp ADDR:PORT) returns each datagram as it came: a
  stand-in for a QUIC endpoint, enough to see whether UDP/443 gets through.
"""

import argparse
import functools
import http.server
import os
import socket
import ssl
import sys
import threading

# A connection that says nothing for this long is dropped, so an idle or
# half-open client cannot pin a thread forever.
CONN_TIMEOUT = 30


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def split_hostport(s):
    """'10.99.0.2:443' or '[fd99::2]:443' -> ('10.99.0.2', 443)."""
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "townguard-lab"
    sys_version = ""

    def host(self):
        h = self.headers.get("Host", "")
        if h.startswith("["):
            return h[1:h.find("]")] if "]" in h else h
        return h.rsplit(":", 1)[0] if h.count(":") == 1 else h

    def send_index(self, head_only):
        body = ("townguard lab: %s\n" % self.host()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def do_GET(self):
        if self.path.split("?", 1)[0] == "/":
            return self.send_index(False)
        return super().do_GET()

    def do_HEAD(self):
        if self.path.split("?", 1)[0] == "/":
            return self.send_index(True)
        return super().do_HEAD()

    def log_request(self, code="-", size="-"):
        local = self.connection.getsockname()
        log("%s:%d %s sni=%s host=%s \"%s\" %s" % (
            local[0], local[1], self.client_address[0],
            getattr(self.connection, "tg_sni", None) or "-",
            self.host() or "-", self.requestline, code))

    def log_error(self, fmt, *args):
        log("%s error: %s" % (self.client_address[0], fmt % args))

    def log_message(self, fmt, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, port, www, tls_ctx):
        self.address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.tls_ctx = tls_ctx
        super().__init__((addr, port), functools.partial(Handler, directory=www))

    def finish_request(self, request, client_address):
        request.settimeout(CONN_TIMEOUT)
        if self.tls_ctx is None:
            return super().finish_request(request, client_address)
        try:
            tls = self.tls_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log("%s:%d %s tls handshake failed: %s" % (
                self.server_address[0], self.server_address[1], client_address[0], e))
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


def tls_contexts(certdir, names, defaults):
    """One context per name; one per address, defaulting to that address's
    name and switching by SNI."""
    by_name = {}
    for n in names:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(certdir, n + ".crt"),
                            os.path.join(certdir, n + ".key"))
        by_name[n] = ctx

    def pick(sock, sni, _ctx):
        if sni:
            sock.tg_sni = sni
            if sni.lower() in by_name:
                sock.context = by_name[sni.lower()]
        return None

    per_addr = {}
    for addr, name in defaults.items():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(certdir, name + ".crt"),
                            os.path.join(certdir, name + ".key"))
        ctx.sni_callback = pick
        per_addr[addr] = ctx
    return per_addr


def udp_echo(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, port))

    def run():
        while True:
            data, peer = s.recvfrom(65535)
            s.sendto(data, peer)
    return run


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True, help="document root")
    p.add_argument("--certs", required=True, help="NAME.crt and NAME.key for every --name")
    p.add_argument("--name", action="append", default=[], help="a name with a certificate")
    p.add_argument("--default", action="append", default=[], metavar="ADDR=NAME",
                   help="an address to listen on and its certificate when SNI does not choose")
    p.add_argument("--http-port", type=int, default=80)
    p.add_argument("--https-port", type=int, default=443)
    p.add_argument("--udp", action="append", default=[], metavar="ADDR:PORT",
                   help="a UDP echo socket")
    p.add_argument("--ready", help="file written once every socket is bound")
    a = p.parse_args()

    defaults = dict(d.split("=", 1) for d in a.default)
    ctxs = tls_contexts(a.certs, a.name, defaults)
    runs = []
    for addr in defaults:
        runs.append(Server(addr, a.https_port, a.dir, ctxs[addr]).serve_forever)
        runs.append(Server(addr, a.http_port, a.dir, None).serve_forever)
    for u in a.udp:
        runs.append(udp_echo(*split_hostport(u)))

    if a.ready:
        with open(a.ready + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(a.ready + ".tmp", a.ready)
    log("listening: https/http on %s, udp echo on %s" % (
        " ".join(defaults), " ".join(a.udp) or "-"))

    threads = [threading.Thread(target=r, daemon=True) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
