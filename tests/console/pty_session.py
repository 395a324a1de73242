#!/usr/bin/env python3
"""Drive townguard's console as a terminal would: bytes in, screen out.

    pty_session.py SCRIPT TRANSCRIPT -- COMMAND...

COMMAND is started with "@PTY@" in its arguments replaced by the path of
the terminal's slave side (townguard opens it as [console] device); this
script holds the master side, as a terminal emulator does. SCRIPT lines:

    > TEXT         type TEXT and Enter (CR, as picocom and screen send)
    >> TEXT        type TEXT with Python escapes (\\t, \\x1b[A, \\r), no Enter
    ? TEXT         wait (up to WAIT_S) until the screen shows TEXT after the last wait
    ?? TEXT        the same, typing the last "> " line again every RETYPE_S seconds
                   (a state the console shows once it has come about)
    ! SHELL        run SHELL (bash -c) and wait for it; it must exit 0
    sleep S        wait S seconds
    junk N         type N random bytes (seeded: the same bytes every run)
    # ...          a comment (also blank lines)

Everything the console printed is written to TRANSCRIPT with CR LF shown
as a line end and other control bytes as ^X, so a golden file compares
exactly. At the end COMMAND is sent SIGTERM; the exit status is COMMAND's,
and the terminal's settings must be the ones it had before COMMAND opened
it (raw mode restored), else this script fails.
"""
import os
import random
import re
import signal
import subprocess
import sys
import termios
import time

WAIT_S = float(os.environ.get("WAIT_S", "20"))
RETYPE_S = float(os.environ.get("RETYPE_S", "1"))


def render(data):
    text = data.decode("latin-1").replace("\r\n", "\n")
    out = []
    for ch in text:
        o = ord(ch)
        if ch == "\n" or 0x20 <= o < 0x7F:
            out.append(ch)
        elif o < 0x20:
            out.append("^" + chr(o + 0x40))
        elif o == 0x7F:
            out.append("^?")
        else:
            out.append("\\x%02x" % o)
    return "".join(out)


def main():
    script, transcript = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    path = os.ttyname(slave)
    cmd = [a.replace("@PTY@", path) for a in cmd]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    os.set_blocking(master, False)
    screen = bytearray()
    mark = 0
    rng = random.Random(14)

    def pump(timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                chunk = os.read(master, 65536)
            except BlockingIOError:
                chunk = b""
            except OSError:
                return
            if chunk:
                screen.extend(chunk)
                return
            if proc.poll() is not None:
                return
            time.sleep(0.01)

    def send(data):
        # Write in pieces and read between them: a full pty must not deadlock us.
        for i in range(0, len(data), 512):
            piece = data[i:i + 512]
            while piece:
                try:
                    n = os.write(master, piece)
                    piece = piece[n:]
                except BlockingIOError:
                    pump(0.01)
            pump(0)

    failed = None
    typed = None
    for lineno, line in enumerate(open(script), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith(">> "):
            send(line[3:].encode().decode("unicode_escape").encode("latin-1"))
        elif line.startswith("> ") or line == ">":
            typed = line[2:].encode() + b"\r"
            send(typed)
        elif line.startswith("?? "):
            want = line[3:].encode()
            end = time.monotonic() + WAIT_S
            again = time.monotonic() + RETYPE_S
            while screen.find(want, mark) < 0 and time.monotonic() < end and proc.poll() is None:
                pump(0.2)
                if typed and time.monotonic() >= again and screen.find(want, mark) < 0:
                    mark = len(screen)
                    send(typed)
                    again = time.monotonic() + RETYPE_S
            at = screen.find(want, mark)
            if at < 0:
                failed = "%s:%d: the screen never showed %r" % (script, lineno, line[3:])
                break
            mark = at + len(want)
        elif line.startswith("! "):
            rc = subprocess.run(["bash", "-c", line[2:]]).returncode
            pump(0)
            if rc != 0:
                failed = "%s:%d: exit %d: %s" % (script, lineno, rc, line[2:])
                break
        elif line.startswith("? "):
            want = line[2:].encode()
            end = time.monotonic() + WAIT_S
            while screen.find(want, mark) < 0 and time.monotonic() < end and proc.poll() is None:
                pump(0.2)
            at = screen.find(want, mark)
            if at < 0:
                failed = "%s:%d: the screen never showed %r" % (script, lineno, line[2:])
                break
            mark = at + len(want)
        elif line.startswith("sleep "):
            end = time.monotonic() + float(line[6:])
            while time.monotonic() < end:
                pump(0.05)
        elif line.startswith("junk "):
            send(bytes(rng.getrandbits(8) for _ in range(int(line[5:]))))
        else:
            failed = "%s:%d: not a script line: %r" % (script, lineno, line)
            break
    pump(0.2)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
        failed = failed or "the command did not stop within 30 s of SIGTERM"
    pump(0.1)
    with open(transcript, "w") as f:
        f.write(render(bytes(screen)))
    after = termios.tcgetattr(slave)
    if after != before:
        failed = failed or "the terminal's settings were not restored: %r != %r" % (after, before)
    if failed:
        print("FAIL: " + failed, file=sys.stderr)
        print("screen so far:\n" + render(bytes(screen[-2000:])), file=sys.stderr)
        return 1
    return rc if rc >= 0 else 128 - rc


if __name__ == "__main__":
    sys.exit(main())
