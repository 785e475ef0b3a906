"""A lean RFC 6455 endpoint for the bench peers: one protocol object per socket.

Why not the ``websockets`` library the rest of parley uses: at a few hundred calls the
library's general machinery (an ``Assembler`` and a task per connection, a frame
object, a ``BytesIO`` and a context manager per message sent) cost the bench peers more
CPU than the gateway they measure. A bench peer only ever sends unfragmented text
frames with no extension, so a frame is a fixed header, a masking key when the client
sends, and the payload; frames received are cut from the bytes of each read and
handed to a callback with no task switch in between, with two instants per read
(every frame of one read counts as having come together): when it was read, and when
the kernel queued its bytes on the socket, so that the peer's own wake-up is not
counted as the gateway's latency. The socket underneath is a
:class:`bin.bench_socket.StampedTransport` (:func:`connect`, and the agent peer's
:class:`~bin.bench_socket.StampedServer`).

What the peer still does as the protocol asks: the opening handshake both ways (with
``Sec-WebSocket-Accept`` checked by the client), a fresh masking key per client frame
(§5.3; drawn from ``os.urandom`` in blocks, masked with the ``websockets`` C
``apply_mask``), unmasked server frames, fragmented messages reassembled, ``ping``
answered with ``pong``, the closing handshake (the server closes the TCP connection
first, §7.1.1), and a protocol error closing with 1002 (1009 for a message over
``max_size``). No extension is offered or accepted, no subprotocol is used.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from collections.abc import Callable
from urllib.parse import urlsplit

from bin import bench_socket

try:
    from websockets.speedups import apply_mask  # the library's C extension
except ImportError:  # pragma: no cover - a build of websockets without it
    from websockets.utils import apply_mask

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_HEADER = 16 * 1024
_KEY_BLOCK = 4096

#: ``on_message(opcode, payload, read_ns, arrived_ns)``: a whole text (1) or binary (2)
#: message, the time it was read and the time its bytes reached the socket.
OnMessage = Callable[[int, bytes, int, int], None]


class HandshakeError(ConnectionError):
    """The opening handshake failed (bad status, bad accept key, not a websocket)."""


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())  # noqa: S324 - RFC 6455


class _MaskKeys:
    """Fresh 4-byte masking keys from the OS CSPRNG, read 4 KiB at a time."""

    __slots__ = ("_block", "_pos")

    def __init__(self) -> None:
        self._block = b""
        self._pos = 0

    def next(self) -> bytes:
        pos = self._pos
        if pos >= len(self._block):
            self._block = os.urandom(_KEY_BLOCK)
            pos = 0
        self._pos = pos + 4
        return self._block[pos : pos + 4]


def frame_header(opcode: int, length: int, masked: bool) -> bytes:
    """FIN + ``opcode``, and the payload length in its shortest form (§5.2)."""
    bit = 0x80 if masked else 0
    if length < 126:
        return bytes((0x80 | opcode, bit | length))
    if length < 65536:
        return struct.pack("!BBH", 0x80 | opcode, bit | 126, length)
    return struct.pack("!BBQ", 0x80 | opcode, bit | 127, length)


class WsEndpoint:
    """One websocket connection, the client's or the server's side.

    ``opened`` resolves once the opening handshake is done (or fails with
    :class:`HandshakeError`); ``closed`` once the TCP connection is gone. ``close_code``
    is the code of the peer's close frame (1005 without one, 1006 if the connection
    was lost without a closing handshake), like ``websockets``' ``close_code``.
    """

    def __init__(
        self,
        on_message: OnMessage,
        *,
        client: bool,
        max_size: int = 2**20,
        request: bytes = b"",
        key: bytes = b"",
        close_timeout_s: float = 2.0,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.on_message = on_message
        self.client = client
        self.max_size = max_size
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.open = False  # frames may be sent
        self.close_code: int | None = None
        self.path = ""  # the request target, on the server side
        self.transport: bench_socket.StampedTransport | None = None
        self._request = request
        self._key = key
        self._close_timeout_s = close_timeout_s
        self._handshaking = True
        self._close_sent = False
        self._reading_done = False
        self._buf = b""
        self._parts: list[bytes] = []
        self._part_op = 0
        self._part_len = 0
        self._keys = _MaskKeys() if client else None
        self._headers: dict[int, bytes] = {}  # text frame headers by payload length
        self._close_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ sending
    def send_text(self, payload: bytes) -> bool:
        """Send one text frame; False (and nothing sent) once the connection is closing."""
        if not self.open:
            return False
        self._write(OP_TEXT, payload)
        return True

    def send_texts(self, payloads: list[bytes]) -> bool:
        """Send several text frames in one write (one system call for all of them)."""
        if not self.open:
            return False
        assert self.transport is not None
        keys = self._keys
        headers = self._headers
        parts = []
        for payload in payloads:
            length = len(payload)
            head = headers.get(length)
            if head is None:
                head = headers[length] = frame_header(OP_TEXT, length, keys is not None)
            if keys is None:
                parts.append(head + payload)
            else:
                mask = keys.next()
                parts.append(head + mask + apply_mask(payload, mask))
        self.transport.write(parts[0] if len(parts) == 1 else b"".join(parts))
        return True

    def _write(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        keys = self._keys
        if keys is None:
            self.transport.write(frame_header(opcode, len(payload), False) + payload)
        else:
            mask = keys.next()
            self.transport.write(
                frame_header(opcode, len(payload), True) + mask + apply_mask(payload, mask)
            )

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake (or, before the handshake, drop the connection)."""
        if self.transport is None or self.transport.is_closing():
            return
        if self._handshaking:
            self.transport.close()
            return
        self._send_close(code)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _send_close(self, code: int) -> None:
        self.open = False
        if not self._close_sent:
            self._close_sent = True
            self._write(OP_CLOSE, struct.pack("!H", code))
        if self._close_timer is None:
            # The peer has this long to answer (and, for a client, the server to hang up).
            loop = asyncio.get_running_loop()
            self._close_timer = loop.call_later(self._close_timeout_s, self.abort)

    # ------------------------------------------------------------------ the transport's calls
    def connection_made(self, transport: bench_socket.StampedTransport) -> None:
        self.transport = transport
        if self.client:
            self.transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self.close_code is None:
            self.close_code = 1006
        if self._close_timer is not None:
            self._close_timer.cancel()
        if not self.opened.done():
            self.opened.set_exception(HandshakeError("connection closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def stamped_data_received(self, data: bytes, now: int, arrived: int) -> None:
        """Bytes read at ``now`` that reached the socket at ``arrived``."""
        if self._reading_done:
            return  # after the peer's close frame or a protocol error: nothing more is read
        buf = self._buf + data if self._buf else data
        if self._handshaking:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER:
                    self._fail_handshake("handshake header too long")
                self._buf = buf
                return
            head, buf = buf[:end], buf[end + 4 :]
            if not self._handshake(head):
                return
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            at = pos + 2
            if length == 126:
                if size - at < 2:
                    break
                length = (buf[at] << 8) | buf[at + 1]
                at += 2
            elif length == 127:
                if size - at < 8:
                    break
                length = int.from_bytes(buf[at : at + 8], "big")
                at += 8
            masked = b1 & 0x80
            if masked:
                at += 4
            if size - at < length:
                break
            payload = buf[at : at + length]
            if masked:
                payload = apply_mask(payload, buf[at - 4 : at])
            pos = at + length
            if bool(masked) == self.client:
                self._protocol_error(1002)  # clients mask every frame, servers none (§5.1)
                return
            if b0 == 0x81 and not self._parts and length <= self.max_size:
                # The common case: a whole text message (FIN, no RSV bit, opcode 1).
                if not self._close_sent:
                    self.on_message(OP_TEXT, payload, now, arrived)
                continue
            if not self._frame(b0, payload, now, arrived):
                self._reading_done = True
                self._buf = b""
                return
        self._buf = buf[pos:] if pos < size else b""

    # ------------------------------------------------------------------ receiving
    def _frame(self, b0: int, payload: bytes, now: int, arrived: int) -> bool:
        """Handle one frame; False once the connection is failed (stop parsing)."""
        opcode = b0 & 0x0F
        fin = b0 & 0x80
        if b0 & 0x70:
            self._protocol_error(1002)  # no extension was negotiated: RSV bits must be 0
            return False
        if opcode in (OP_TEXT, OP_BINARY):
            if self._parts:
                self._protocol_error(1002)  # a new message inside a fragmented one
                return False
            if len(payload) > self.max_size:
                self._protocol_error(1009)
                return False
            if fin:
                if not self._close_sent:
                    self.on_message(opcode, payload, now, arrived)
                return True
            self._parts = [payload]
            self._part_op = opcode
            self._part_len = len(payload)
            return True
        if opcode == OP_CONT:
            if not self._parts:
                self._protocol_error(1002)
                return False
            self._part_len += len(payload)
            if self._part_len > self.max_size:
                self._protocol_error(1009)
                return False
            self._parts.append(payload)
            if fin:
                message = b"".join(self._parts)
                self._parts = []
                if not self._close_sent:
                    self.on_message(self._part_op, message, now, arrived)
            return True
        if not fin or len(payload) > 125:
            self._protocol_error(1002)  # control frames are short and never fragmented
            return False
        if opcode == OP_PING:
            if not self._close_sent:
                self._write(OP_PONG, payload)
            return True
        if opcode == OP_PONG:
            return True
        if opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self._send_close(self.close_code if len(payload) >= 2 else 1000)
            if not self.client:
                assert self.transport is not None
                self.transport.close()  # the server closes the TCP connection first
            return False
        self._protocol_error(1002)
        return False

    def _protocol_error(self, code: int) -> None:
        self._reading_done = True
        self._buf = b""
        self._send_close(code)
        if not self.client:
            assert self.transport is not None
            self.transport.close()

    # ------------------------------------------------------------------ handshake
    def _fail_handshake(self, reason: str) -> None:
        self._reading_done = True
        if not self.opened.done():
            self.opened.set_exception(HandshakeError(reason))
        assert self.transport is not None
        self.transport.close()

    def _handshake(self, head: bytes) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                self._fail_handshake(f"malformed header line {line!r}")
                return False
            headers[name.strip().lower()] = value.strip()
        upgrade = headers.get("upgrade", "").lower() == "websocket"
        connection = "upgrade" in headers.get("connection", "").lower()
        if self.client:
            status = lines[0].split(" ", 2)
            if len(status) < 2 or status[1] != "101":
                self._fail_handshake(f"handshake answered {lines[0]!r}")
                return False
            if not (upgrade and connection):
                self._fail_handshake("handshake answer is not a websocket upgrade")
                return False
            if headers.get("sec-websocket-accept", "").encode() != accept_key(self._key):
                self._fail_handshake("wrong Sec-WebSocket-Accept")
                return False
            if headers.get("sec-websocket-extensions"):
                self._fail_handshake("the server chose an extension that was not offered")
                return False
        else:
            request = lines[0].split(" ")
            key = headers.get("sec-websocket-key", "")
            if (
                len(request) != 3
                or request[0] != "GET"
                or not (upgrade and connection)
                or headers.get("sec-websocket-version") != "13"
                or len(base64.b64decode(key + "==")[:16]) != 16
            ):
                assert self.transport is not None
                self.transport.write(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                self._fail_handshake("not a websocket upgrade request")
                return False
            self.path = request[1]
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                + accept_key(key.encode())
                + b"\r\n\r\n"
            )
        self._handshaking = False
        self.open = True
        self.opened.set_result(None)
        return True


async def connect(
    url: str,
    on_message: OnMessage,
    *,
    headers: dict[str, str] | None = None,
    max_size: int = 2**20,
    close_timeout_s: float = 2.0,
) -> WsEndpoint:
    """Open a client connection to ``ws://host:port/path?query`` and do the handshake."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise ValueError(f"bench websocket: only ws:// URLs, not {url!r}")
    port = parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    key = base64.b64encode(os.urandom(16))
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    endpoint = WsEndpoint(
        on_message,
        client=True,
        max_size=max_size,
        request=request,
        key=key,
        close_timeout_s=close_timeout_s,
    )
    await bench_socket.connect(lambda: endpoint, parts.hostname, port)
    try:
        await endpoint.opened
    except BaseException:
        endpoint.abort()
        raise
    return endpoint
