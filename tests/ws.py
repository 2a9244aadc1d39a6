"""Minimal WebSocket framing (RFC 6455) for the tunnel tests: both the echo upstream
(`upstream.py`, paths under /ws/) and the test client use it."""
import base64
import hashlib
import os
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10


def accept_for(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def frame(opcode, payload, mask):
    """One final frame; clients mask (RFC 6455 section 5.3), servers do not."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + xor(payload, key)


def xor(data, key):
    k = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(len(data), "big")


def read_exact(f, n):
    """n bytes from a file-like object (or b"" at EOF)."""
    out = b""
    while len(out) < n:
        b = f.read(n - len(out))
        if not b:
            return b""
        out += b
    return out


def read_frame(f):
    """(opcode, payload) of the next frame, unmasked; None at EOF, even inside a frame."""
    h = read_exact(f, 2)
    if not h:
        return None
    opcode, n = h[0] & 0x0F, h[1] & 0x7F
    if n in (126, 127):
        size = 2 if n == 126 else 8
        ext = read_exact(f, size)
        if not ext:
            return None
        n = int.from_bytes(ext, "big")
    key = read_exact(f, 4) if h[1] & 0x80 else None
    if key == b"":
        return None
    payload = read_exact(f, n) if n else b""
    if n and not payload:
        return None
    if key:
        payload = xor(payload, key)
    return opcode, payload
