"""WebSocket text frames, serialized in one step (RFC 6455 §5.2).

Why not ``websockets``' own ``Protocol.send_text``: the gateway sends the agent a
caller frame fifty times a second per call, and Twilio an agent frame about as often;
the library's general path (frame object, checks, extensions, ``BytesIO`` and, on the
client side, ``secrets.token_bytes(4)``: one ``getrandom`` system call per frame for
the mask) was the largest single cost on the gateway's media path. A text frame with
no extensions is a fixed header, a masking key when the client sends, and the payload,
so :func:`client_text_frame` and :func:`server_text_frame` write exactly that, masking
with the library's own C ``apply_mask``.

The masking keys still come from the operating system's CSPRNG (§5.3 asks for an
unpredictable key per frame), read 4 KiB at a time instead of 4 bytes at a time.
Only for connections that negotiated no extension (no compression): the caller checks.
"""

from __future__ import annotations

import functools
import os
import struct

try:
    from websockets.speedups import apply_mask  # the library's C extension
except ImportError:  # pragma: no cover - a build of websockets without it
    from websockets.utils import apply_mask

_FIN_TEXT = 0x81  # FIN bit + opcode 1 (text)
_MASKED = 0x80
_KEYS_PER_REFILL = 1024
_CACHED_UP_TO = 4096  # headers cached for payloads shorter than this (at most 4096 of them)


class MaskKeys:
    """Fresh 4-byte masking keys from ``os.urandom``, fetched in blocks."""

    __slots__ = ("_block", "_pos")

    def __init__(self) -> None:
        self._block = b""
        self._pos = 0

    def next(self) -> bytes:
        pos = self._pos
        if pos >= len(self._block):
            self._block = os.urandom(4 * _KEYS_PER_REFILL)
            pos = 0
        self._pos = pos + 4
        return self._block[pos : pos + 4]


@functools.cache
def _masked_header(length: int) -> bytes:
    """The header of a masked text frame of ``length`` (a caller frame's is always
    the same one; cached for the sizes the gateway sends, which are few)."""
    return _header(length, _MASKED)


def _header(length: int, masked: int) -> bytes:
    if length < 126:
        return bytes((_FIN_TEXT, masked | length))
    if length < 65536:
        return struct.pack("!BBH", _FIN_TEXT, masked | 126, length)
    return struct.pack("!BBQ", _FIN_TEXT, masked | 127, length)


def client_text_frame(payload: bytes, keys: MaskKeys) -> bytes:
    """One complete, masked, unfragmented text frame carrying ``payload`` (UTF-8)."""
    mask = keys.next()
    length = len(payload)
    header = _masked_header(length) if length < _CACHED_UP_TO else _header(length, _MASKED)
    return b"".join((header, mask, apply_mask(payload, mask)))


def server_text_frame(payload: bytes) -> bytes:
    """One complete, unmasked, unfragmented text frame carrying ``payload`` (UTF-8)."""
    return _header(len(payload), 0) + payload


__all__ = ["MaskKeys", "apply_mask", "client_text_frame", "server_text_frame"]
