"""A small real HTTP server that records what it receives and answers as told.

It plays the gateway's side of the stand-in's outgoing calls (server tools,
post-call webhooks) in tests of the stand-in itself.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from gateway.standins.waiting import poll_until


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        import orjson

        return orjson.loads(self.body)


@dataclass(slots=True)
class Reply:
    status: int = 200
    json: Any = field(default_factory=lambda: {"ok": True})
    delay_s: float = 0.0


class HttpSink:
    """``async with HttpSink() as sink``: ``sink.url``, ``sink.received``, ``sink.reply``."""

    def __init__(self, reply: Callable[[Received], Reply] | None = None) -> None:
        self.received: list[Received] = []
        self.reply = reply or (lambda _: Reply())
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> HttpSink:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        await poll_until(lambda: len(self.received) >= count, timeout_s)
        return self.received

    async def _handle(self, request: web.Request) -> web.Response:
        got = Received(
            request.method,
            request.path,
            dict(request.query),
            {k.lower(): v for k, v in request.headers.items()},
            await request.read(),
        )
        self.received.append(got)
        answer = self.reply(got)
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        return web.json_response(answer.json, status=answer.status)
