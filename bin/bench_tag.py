"""Latency tags inside 20 ms mu-law frames: which call, which frame, when it was sent.

In pass-through mode the gateway forwards payload bytes unchanged (caller to agent) or
only re-cuts them into 160-byte frames (agent to caller), so a tag written at the start
of every 160-byte frame by one bench peer is read back intact by the other.

A tag is 30 bytes (a multiple of 3, so its base64 is exactly 40 characters and can be
prefixed to the precomputed base64 of the rest of the frame): 4 magic bytes, then 26
nibbles, each carried as a byte ``0xF0 | nibble`` — a mu-law code of magnitude <= 120
of 32767, i.e. near-silence (the idea of ``gateway/standins/frame_tag.py``):

* call index, 16 bits;
* frame sequence number within the call and direction, 24 bits;
* send time, ``time.monotonic_ns()``, 64 bits. CLOCK_MONOTONIC is system-wide on Linux,
  so a time written by one process can be compared with one read in another.
"""

from __future__ import annotations

import base64
import binascii

_b2a = binascii.b2a_base64
_hexlify = binascii.hexlify
_a2b = binascii.a2b_base64

FRAME_BYTES = 160  # 20 ms of mu-law at 8 kHz
FRAME_B64 = 216  # len(base64 of one frame)
MAGIC = bytes((0x7A, 0xF5, 0x7A, 0xF5))
TAG_BYTES = 30
TAG_B64 = 40
MAX_CALLS = 1 << 16
MAX_SEQ = 1 << 24

_HEX = b"0123456789abcdef"
_TO_NIBBLE = bytes.maketrans(_HEX, bytes(range(0xF0, 0x100)))
_hex_table = bytearray(b"z" * 256)  # anything but a nibble byte fails int(..., 16)
for _i in range(16):
    _hex_table[0xF0 + _i] = _HEX[_i]
_TO_HEX = bytes(_hex_table)

BODY = b"\xff" * (FRAME_BYTES - TAG_BYTES)  # mu-law silence after the tag
BODY_B64 = base64.b64encode(BODY).decode("ascii")
BODY_B64_BYTES = BODY_B64.encode("ascii")
_SEQ_MASK = MAX_SEQ - 1
_NS_MASK = (1 << 64) - 1


def tag(call: int, seq: int, sent_ns: int) -> bytes:
    """The 30 tag bytes for frame ``seq`` of call ``call`` sent at ``sent_ns``."""
    if not (0 <= call < MAX_CALLS and 0 <= seq < MAX_SEQ and 0 <= sent_ns <= _NS_MASK):
        raise ValueError("tag: call, seq or time out of range")
    # 16 + 24 + 64 bits = 13 bytes, as 26 hex digits, each digit made a nibble byte.
    value = (call << 88) | (seq << 64) | sent_ns
    return MAGIC + _hexlify(value.to_bytes(13, "big")).translate(_TO_NIBBLE)


def frame(call: int, seq: int, sent_ns: int) -> bytes:
    """One tagged 160-byte frame of near-silence."""
    return tag(call, seq, sent_ns) + BODY


def frame_b64(call: int, seq: int, sent_ns: int) -> str:
    """Base64 of :func:`frame`, built without encoding the constant part again."""
    return frame_b64_bytes(call, seq, sent_ns).decode("ascii")


def frame_b64_bytes(call: int, seq: int, sent_ns: int) -> bytes:
    """:func:`frame_b64` as ASCII bytes, ready to go into a websocket frame."""
    return _b2a(tag(call, seq, sent_ns), newline=False) + BODY_B64_BYTES


def chunk_b64(call: int, first_seq: int, frames: int, sent_ns: int) -> str:
    """Base64 of ``frames`` consecutive tagged frames (one agent audio chunk)."""
    return chunk_b64_bytes(call, first_seq, frames, sent_ns).decode("ascii")


def chunk_b64_bytes(call: int, first_seq: int, frames: int, sent_ns: int) -> bytes:
    """:func:`chunk_b64` as ASCII bytes."""
    raw = b"".join([tag(call, first_seq + k, sent_ns) + BODY for k in range(frames)])
    return _b2a(raw, newline=False)


def read_b64(tag_b64: str | bytes) -> tuple[int, int, int] | None:
    """``(call, seq, sent_ns)`` from the first 40 base64 characters of a frame, or None."""
    try:
        raw = _a2b(tag_b64[:TAG_B64], strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return read(raw)


def read(raw: bytes) -> tuple[int, int, int] | None:
    """``(call, seq, sent_ns)`` from the first 30 bytes of a frame, or None if untagged."""
    if len(raw) < TAG_BYTES or raw[:4] != MAGIC:
        return None
    try:
        value = int(raw[4:TAG_BYTES].translate(_TO_HEX), 16)
    except ValueError:
        return None
    return value >> 88, (value >> 64) & _SEQ_MASK, value & _NS_MASK


def read_payload(payload_b64: str | bytes) -> list[tuple[int, int, int] | None]:
    """Every frame's tag in a base64 payload of any whole number of frames."""
    if len(payload_b64) == FRAME_B64:
        return [read_b64(payload_b64)]
    try:
        raw = _a2b(payload_b64, strict_mode=True)
    except (binascii.Error, ValueError):
        return [None]
    return [read(raw[i : i + FRAME_BYTES]) for i in range(0, max(len(raw), 1), FRAME_BYTES)]
