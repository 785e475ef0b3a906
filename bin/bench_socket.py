"""TCP sockets for the bench peers that tell when each read's bytes reached the socket.

Why: the bench times a frame from the instant one peer writes it to the instant the
other peer receives it, and a peer that only notes the time once its Python code runs
adds its own delays to the gateway's. It may be busy sending its own frames, and on
a virtual machine a process asleep in ``epoll`` takes long to run again: a probe
here (one write every 10 ms between two processes on two CPUs, the reader asleep)
saw the kernel queue the bytes on the reader's socket 61 µs (p50) after the writer
took its timestamp, and the reader run 230 µs (p50) and 2.1 ms (p99) after it. That
wait is the peer's, not the gateway's, so the peers ask the kernel to stamp what it
queues on their sockets (``SO_TIMESTAMPNS``): ``recvmsg`` returns the stamp of the
last segment read, and each message of that read is given that instant as its
*arrival*. A read that gathers segments which came at different moments gives them
all the latest one, which errs towards more latency, never less. Where the kernel
gives no stamp, the arrival is the read time.

The peers note both instants, and the report shows both figures.

:class:`StampedTransport` is the part of an asyncio transport that the bench's
websocket endpoint (:mod:`bin.bench_ws`) uses: ``write`` (sent at once, the rest
buffered until the socket is writable), ``close`` (after the buffer), ``abort``,
``is_closing``, and nothing else; it reads with ``recvmsg`` from the event loop's ``add_reader`` and
calls the protocol's ``stamped_data_received(data, read_ns, arrived_ns)``, on the
``time.monotonic_ns`` clock both peers stamp their frames with.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Callable
from typing import Protocol

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux: 35 (SCM_TIMESTAMPNS too)
# Python allocates the whole buffer for each read and shrinks it after: at 256 KiB that
# is a fresh mapping per read (20 µs a read here, against 4 µs at 64 KiB).
READ_SIZE = 64 * 1024
_TIMESPEC = struct.Struct("@qq")  # struct timespec: seconds, nanoseconds (64-bit Linux)
_ANCILLARY_SIZE = socket.CMSG_SPACE(_TIMESPEC.size)


class StampedProtocol(Protocol):
    def connection_made(self, transport: StampedTransport) -> None: ...

    def stamped_data_received(self, data: bytes, read_ns: int, arrived_ns: int) -> None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...


def arrival_ns(ancillary: list[tuple[int, int, bytes]], read_ns: int) -> int:
    """The kernel's stamp among ``recvmsg``'s ancillary data, on the monotonic clock.

    The kernel stamps on the real-time clock; the two clocks' offset is read now, a
    microsecond at most after ``read_ns``. Never later than ``read_ns`` (nor, so, than
    the read itself); ``read_ns`` when there is no stamp.
    """
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
            offset = time.time_ns() - time.monotonic_ns()
            stamped = seconds * 1_000_000_000 + nanoseconds - offset
            return stamped if 0 < stamped < read_ns else read_ns
    return read_ns


def _prepare(sock: socket.socket) -> None:
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:  # not Linux: arrivals are read times
        pass


class StampedTransport:
    """One connected socket, read with ``recvmsg``; see the module docstring."""

    def __init__(self, sock: socket.socket, protocol: StampedProtocol) -> None:
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._out = bytearray()
        self._writing = False
        self._closing = False
        self._closed = False
        _prepare(sock)
        protocol.connection_made(self)
        if not self._closed:
            self._loop.add_reader(self._fd, self._read)

    # ------------------------------------------------------------------ asyncio's API
    def write(self, data: bytes) -> None:
        if self._closing:
            return
        if not self._writing:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._finish(exc)
                return
            if sent == len(data):
                return
            data = data[sent:]
            self._writing = True
            self._loop.add_writer(self._fd, self._flush)
        self._out += data

    def close(self) -> None:
        """Stop reading; the socket closes once what is buffered has been sent."""
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._fd)
        if not self._writing:
            self._loop.call_soon(self._finish, None)

    def abort(self) -> None:
        self._finish(None)

    def is_closing(self) -> bool:
        return self._closing

    # ------------------------------------------------------------------ the loop's side
    def _read(self) -> None:
        try:
            data, ancillary, _, _ = self._sock.recvmsg(READ_SIZE, _ANCILLARY_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._finish(exc)
            return
        read_ns = time.monotonic_ns()
        if not data:  # the peer closed its side
            self._finish(None)
            return
        self._protocol.stamped_data_received(data, read_ns, arrival_ns(ancillary, read_ns))

    def _flush(self) -> None:
        try:
            sent = self._sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._finish(exc)
            return
        del self._out[:sent]
        if not self._out:
            self._writing = False
            self._loop.remove_writer(self._fd)
            if self._closing:
                self._finish(None)

    def _finish(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = self._closing = True
        self._loop.remove_reader(self._fd)
        if self._writing:
            self._loop.remove_writer(self._fd)
        self._out.clear()
        self._sock.close()
        self._loop.call_soon(self._protocol.connection_lost, exc)


async def connect(factory: Callable[[], StampedProtocol], host: str, port: int) -> StampedProtocol:
    """A client connection to ``host:port``; returns its protocol (connection made)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    protocol = factory()
    StampedTransport(sock, protocol)
    return protocol


class StampedServer:
    """A listening socket whose connections are :class:`StampedTransport`s."""

    def __init__(self, factory: Callable[[], StampedProtocol], host: str, backlog: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._factory = factory
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(backlog)
        self._sock.setblocking(False)
        self._loop.add_reader(self._sock.fileno(), self._accept)
        self.port: int = self._sock.getsockname()[1]

    def _accept(self) -> None:
        for _ in range(64):  # a burst of connections, without starving the loop
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors, say: the next readiness retries
                return
            StampedTransport(conn, self._factory())

    def close(self) -> None:
        """Stop accepting (connections already made stay up)."""
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()


__all__ = ["SO_TIMESTAMPNS", "StampedServer", "StampedTransport", "arrival_ns", "connect"]
