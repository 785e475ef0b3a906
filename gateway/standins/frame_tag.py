"""Sequence numbers hidden inside mu-law frames, for latency measurements.

Why: the benchmark wants to know how long one caller frame takes to cross the gateway
(Twilio stand-in -> gateway -> ElevenLabs stand-in) without trusting the gateway to
tell it. In pass-through mode the gateway forwards the payload bytes unchanged, so a
tag written into the bytes on one side can be read back on the other.

A tag is 12 bytes at the start of the frame: 4 magic bytes, then a 32-bit sequence
number as 8 nibbles. Every byte is a mu-law code of magnitude <= 120 (of 32767),
so a tagged frame of silence stays silence to a voice-activity detector, and a tagged
frame of speech loses only 1.5 ms of it.
"""

from __future__ import annotations

MAGIC = bytes((0x7A, 0xF5, 0x7A, 0xF5))
TAG_LEN = len(MAGIC) + 8


def tag_frame(frame: bytes, seq: int) -> bytes:
    """Return ``frame`` with ``seq`` (0 .. 2**32-1) written over its first 12 bytes."""
    if len(frame) < TAG_LEN:
        raise ValueError(f"frame: needs at least {TAG_LEN} bytes to carry a tag")
    nibbles = bytes(0xF0 | ((seq >> shift) & 0xF) for shift in range(28, -4, -4))
    return MAGIC + nibbles + frame[TAG_LEN:]


def read_tag(frame: bytes) -> int | None:
    """The sequence number written by :func:`tag_frame`, or None for an untagged frame."""
    if len(frame) < TAG_LEN or frame[: len(MAGIC)] != MAGIC:
        return None
    seq = 0
    for byte in frame[len(MAGIC) : TAG_LEN]:
        if byte & 0xF0 != 0xF0:
            return None
        seq = (seq << 4) | (byte & 0xF)
    return seq
