# A fixed-time SNTP server for the lab: every mode-3 (client) request gets a
# mode-4 answer whose receive and transmit times are the given Unix time and
# whose originate time echoes the request's transmit time (lwIP checks it).
# UNIX_TIME "now" answers with this host's clock instead (for TLS tests, where
# certificates must be within their validity).
# With HOLD_FILE, the server is silent (requests are read, not answered)
# until HOLD_FILE exists, then answers the requests it holds and every later
# one: a client sees a silent server, and its pending request is answered
# without waiting for its retry (lwIP retries after 15 s and more).
#   /usr/bin/python3 tests/lab/sntp_server.py ADDRESS UNIX_TIME|now [HOLD_FILE]
import os, select, socket, struct, sys, time
NTP_UNIX_DELTA = 2208988800
def stamp():
    if sys.argv[2] == "now":
        now = time.time()
        return struct.pack("!II", int(now) + NTP_UNIX_DELTA, int((now % 1) * 2**32))
    return struct.pack("!II", int(sys.argv[2]) + NTP_UNIX_DELTA, 0)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 123))
print("listening", flush=True)
hold = sys.argv[3] if len(sys.argv) > 3 else None
held = []
def requests():
    while True:
        if hold and not os.path.exists(hold):
            if select.select([s], [], [], 0.05)[0]:
                held.append(s.recvfrom(512))
                print("held a request", flush=True)
            continue
        while held:
            yield held.pop(0)
        yield s.recvfrom(512)
for req, peer in requests():
    if len(req) < 48 or req[0] & 7 != 3:
        continue
    version = (req[0] >> 3) & 7
    head = struct.pack("!BBbbII4s", version << 3 | 4, 1, 6, -20, 0, 0, b"TGLB")
    t = stamp()
    s.sendto(head + t + req[40:48] + t + t, peer)
    print(f"answered {peer[0]}:{peer[1]} version {version}", flush=True)
