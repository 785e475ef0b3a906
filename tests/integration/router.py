"""A load balancer in front of several gateway processes, routing by path (tests only).

It plays the part of the proxy a deployment puts in front of its gateways, with rules
a test can change while it runs (send the media sockets to one process and the
webhooks to another; then fail over when a process dies). It works at the TCP level:
it reads one request head, picks a backend from the request's path, and relays bytes
both ways, so websocket upgrades pass through untouched. Plain HTTP requests get
``Connection: close``, so every request is routed on its own, as a per-request
balancer would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from bin.server import free_port

HEAD_LIMIT = 64 * 1024


class PathRouter:
    def __init__(self, route: Callable[[str], int]) -> None:
        """``route(path)`` names the backend port for a request's path."""
        self.route = route
        self.port = free_port()
        self.routed: list[tuple[str, int]] = []
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def _track(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._pipes.add(task)
        task.add_done_callback(self._pipes.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
        upgrade = any(line.lower().startswith("upgrade:") for line in lines[1:])
        if not upgrade:
            kept = [ln for ln in lines[1:] if ln and not ln.lower().startswith("connection:")]
            head = "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode("latin-1")
        port = self.route(path.split("?")[0])
        self.routed.append((path.split("?")[0], port))
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.write(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            with contextlib.suppress(OSError):
                await writer.drain()
            writer.close()
            return
        up_writer.write(head)
        self._track(_pipe(reader, up_writer))
        self._track(_pipe(up_reader, writer))


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            dst.close()
