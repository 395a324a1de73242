#!/usr/bin/python3
"""QUIC v1 client Initials, one per name, all from one client port.

    quic_initial.py [--split] CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT NAME...

For each NAME, sends one Initial packet (RFC 9000 17.2.2, protected as RFC
9001 5 says, padded to 1200 bytes) carrying a TLS 1.3 ClientHello with that
server_name, under a new random Destination Connection ID: a new connection
on the same ports each time. The lab's UDP echo on port 443 sends every
datagram back, so an Initial that crossed the gateway comes back. Prints one
line per name: "NAME echoed" or "NAME dropped" (no echo within 1 s).

With --split first, each ClientHello is cut in the middle of its server
name and sent in two Initials of one connection (same connection ids, packet
numbers 0 and 1, CRYPTO frames at offsets 0 and the cut), 0.2 s apart, as a
client with a large ClientHello does (RFC 9001 4.3 allows it). The line then
says "echoed" when both came back, "dropped" when neither did, and "partial"
otherwise.

Only Initials are built, enough for nDPI to decrypt them and read the SNI; no
handshake follows.
"""
import os
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

INITIAL_SALT = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")  # RFC 9001 5.2


def hkdf_extract(salt, ikm):
    h = hmac.HMAC(salt, hashes.SHA256())
    h.update(ikm)
    return h.finalize()


def hkdf_expand_label(secret, label, length):
    full = b"tls13 " + label
    info = struct.pack(">HB", length, len(full)) + full + b"\x00"
    out, block, i = b"", b"", 1
    while len(out) < length:
        h = hmac.HMAC(secret, hashes.SHA256())
        h.update(block + info + bytes([i]))
        block = h.finalize()
        out += block
        i += 1
    return out[:length]


def ext(kind, body):
    return struct.pack(">HH", kind, len(body)) + body


def client_hello(name, scid):
    host = name.encode()
    sni = struct.pack(">HBH", len(host) + 3, 0, len(host)) + host
    alpn = b"\x02h3"
    params = bytes([0x0F, len(scid)]) + scid  # initial_source_connection_id
    exts = (ext(0, sni) + ext(10, b"\x00\x02\x00\x1d") + ext(13, b"\x00\x04\x04\x03\x08\x04")
            + ext(16, struct.pack(">H", len(alpn)) + alpn) + ext(43, b"\x02\x03\x04")
            + ext(51, struct.pack(">HHH", 36, 0x001D, 32) + os.urandom(32)) + ext(57, params))
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
            + struct.pack(">H", len(exts)) + exts)
    return b"\x01" + struct.pack(">I", len(body))[1:] + body


def initial(dcid, scid, pn, offset, data):
    """One protected client Initial carrying DATA in a CRYPTO frame at OFFSET."""
    secret = hkdf_expand_label(hkdf_extract(INITIAL_SALT, dcid), b"client in", 32)
    key = hkdf_expand_label(secret, b"quic key", 16)
    iv = hkdf_expand_label(secret, b"quic iv", 12)
    hp = hkdf_expand_label(secret, b"quic hp", 16)
    off = bytes([offset]) if offset < 64 else struct.pack(">H", 0x4000 | offset)  # varint
    frames = b"\x06" + off + struct.pack(">H", 0x4000 | len(data)) + data  # CRYPTO
    head_len = 1 + 4 + 1 + len(dcid) + 1 + len(scid) + 1 + 2 + 4
    frames += b"\x00" * (1200 - head_len - len(frames) - 16)  # PADDING to 1200 bytes
    length = 4 + len(frames) + 16
    header = (bytes([0xC3]) + struct.pack(">I", 1) + bytes([len(dcid)]) + dcid
              + bytes([len(scid)]) + scid + b"\x00" + struct.pack(">H", 0x4000 | length)
              + struct.pack(">I", pn))
    nonce = iv[:8] + bytes(a ^ b for a, b in zip(iv[8:], struct.pack(">I", pn)))
    sealed = AESGCM(key).encrypt(nonce, frames, header)
    pn_off = len(header) - 4
    sample = sealed[:16]  # 4 bytes after the start of the 4-byte packet number
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(sample) + enc.finalize()
    packet = bytearray(header + sealed)
    packet[0] ^= mask[0] & 0x0F
    for i in range(4):
        packet[pn_off + i] ^= mask[1 + i]
    return bytes(packet)


def initials(name, split):
    """The Initials of one new connection naming NAME: one, or two with the name cut."""
    dcid, scid = os.urandom(8), os.urandom(8)
    ch = client_hello(name, scid)
    if not split:
        return [initial(dcid, scid, 0, 0, ch)]
    cut = ch.index(name.encode()) + len(name) // 2
    return [initial(dcid, scid, 0, 0, ch[:cut]), initial(dcid, scid, 1, cut, ch[cut:])]


def main():
    args = sys.argv[1:]
    split = args[:1] == ["--split"]
    if split:
        args = args[1:]
    client, cport, server, sport = args[0], int(args[1]), args[2], int(args[3])
    s = socket.socket(socket.AF_INET6 if ":" in client else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((client, cport))
    for name in args[4:]:
        pkts = initials(name, split)
        for i, pkt in enumerate(pkts):
            if i:
                time.sleep(0.2)
            s.sendto(pkt, (server, sport))
        back = set()
        s.settimeout(1)
        try:
            while len(back) < len(pkts):
                got = s.recvfrom(4096)[0]
                if got in pkts:
                    back.add(got)
        except socket.timeout:
            pass
        word = "echoed" if len(back) == len(pkts) else "dropped" if not back else "partial"
        print(name, word, flush=True)


if __name__ == "__main__":
    main()
