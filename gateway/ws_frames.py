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


@functools.cache
def _server_header(length: int) -> bytes:
    return _header(length, 0)


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
    length = len(payload)
    return (_server_header(length) if length < _CACHED_UP_TO else _header(length, 0)) + payload


def server_text_frames(texts: list[str]) -> bytes:
    """:func:`server_text_frame` of each of ``texts``, as one buffer (one copy)."""
    parts: list[bytes] = []
    for text in texts:
        payload = text.encode()
        length = len(payload)
        parts.append(_server_header(length) if length < _CACHED_UP_TO else _header(length, 0))
        parts.append(payload)
    return b"".join(parts)


__all__ = [
    "FrameSplitter",
    "MaskKeys",
    "apply_mask",
    "client_text_frame",
    "server_text_frame",
    "server_text_frames",
]


_FIN = 0x80


class FrameSplitter:
    """Cuts complete frames out of a byte stream, for a fast path beside the library.

    :meth:`split` returns ``(payload, frame)`` for each complete frame: the payload
    (unmasked) of a complete, unfragmented text frame with no reserved bit, within
    the size limit and masked as this side expects (``masked``: from a client, True;
    from a server, False), else None, and the frame's bytes as they came (for the
    library, which so always gets whole frames and stays at a frame boundary). A
    partial frame waits for the next call, unless it is long (over ``hold_up_to``:
    an agent's frame may carry megabytes, and holding it would copy it over and over):
    then what is here goes to the library at once, and the rest of that frame as it
    comes. A frame over the size limit goes to the library as soon as its header is
    here (it refuses it), and so does everything after it.
    """

    __slots__ = (
        "_buffer",
        "_fragmented",
        "_hold_up_to",
        "_masked",
        "_max_size",
        "_owed",
        "_passthrough",
    )

    def __init__(self, max_size: int, *, masked: bool, hold_up_to: int = 64 * 1024) -> None:
        self._buffer = b""
        self._max_size = max_size
        self._hold_up_to = hold_up_to
        self._owed = 0  # bytes of a long frame still to pass to the library as they come
        self._masked = _MASKED if masked else 0
        self._fragmented = False  # inside a fragmented message: the library has it all
        self._passthrough = False

    def rest(self, data: bytes) -> bytes:
        """What is buffered plus ``data``: the library takes the stream from here."""
        buffered, self._buffer = self._buffer, b""
        return buffered + data if buffered else data

    def split(self, data: bytes) -> list[tuple[bytes | None, bytes]]:
        if self._passthrough:
            return [(None, self.rest(data))]
        out: list[tuple[bytes | None, bytes]] = []
        owed = self._owed
        if owed:
            if owed >= len(data):
                self._owed = owed - len(data)
                return [(None, data)]
            self._owed = 0
            out.append((None, data[:owed]))
            data = data[owed:]
        buf = self._buffer + data if self._buffer else data
        pos, size = 0, len(buf)
        while size - pos >= 2:
            head1, head2 = buf[pos], buf[pos + 1]
            length = head2 & 0x7F
            start = pos + 2
            if length == 126:
                start += 2
                if start > size:
                    break
                length = int.from_bytes(buf[pos + 2 : start], "big")
            elif length == 127:
                start += 8
                if start > size:
                    break
                length = int.from_bytes(buf[pos + 2 : start], "big")
            masked = head2 & _MASKED
            if masked:
                start += 4
            if length > self._max_size:
                self._passthrough = True  # the library refuses it; it has the rest too
                out.append((None, buf[pos:]))
                pos = size
                break
            end = start + length
            if end > size:
                if length > self._hold_up_to:
                    if head1 & 0x0F < 8:
                        self._fragmented = not head1 & _FIN
                    self._owed = end - size
                    out.append((None, buf[pos:]))
                    pos = size
                break
            frame = buf[pos:end]
            if head1 == _FIN_TEXT and masked == self._masked and not self._fragmented:
                payload = buf[start:end]
                if masked:
                    payload = apply_mask(payload, buf[start - 4 : start])
                out.append((payload, frame))
            else:
                if head1 & 0x0F < 8:  # a data frame: track fragmentation
                    self._fragmented = not head1 & _FIN
                out.append((None, frame))
            pos = end
        self._buffer = buf[pos:] if pos < size else b""
        return out
