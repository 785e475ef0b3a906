"""The media socket's write extension, under a real uvicorn with a websockets client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import connect

from bin.server import free_port
from gateway.ws_server import WRITE_TEXT, MediaWebSocketProtocol


class App:
    """Accepts, writes what the test asks through both paths, and records the results."""

    def __init__(self) -> None:
        self.extension_seen: bool | None = None
        self.results: list[bool] = []
        self.done = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        write = scope["extensions"].get(WRITE_TEXT)
        self.extension_seen = write is not None
        assert (await receive())["type"] == "websocket.connect"
        self.results.append(write([]) if write else False)  # before accept: not now
        await send({"type": "websocket.accept"})
        assert write is not None
        await send({"type": "websocket.send", "text": "asgi 1"})
        self.results.append(write(["batch 1", "batch 2", "é" * 200]))
        await send({"type": "websocket.send", "text": "asgi 2"})
        self.results.append(write(["x" * 70_000]))
        await send({"type": "websocket.close", "code": 1000})
        self.results.append(write(["after close"]))  # refused: nothing may follow a close
        self.done.set()


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, loop="none", ws=MediaWebSocketProtocol,
        lifespan="off", log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # start-up failed: raise its error
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/twilio/media"
    finally:
        server.should_exit = True
        await task


async def test_batches_and_asgi_sends_arrive_as_separate_messages_in_order() -> None:
    app = App()
    async with serving(app) as url, connect(url, compression=None) as ws:
        received = [message async for message in ws]
    await app.done.wait()
    assert app.extension_seen is True
    assert received == ["asgi 1", "batch 1", "batch 2", "é" * 200, "asgi 2", "x" * 70_000]
    assert app.results == [False, True, True, False]


async def test_with_compression_negotiated_the_library_frames_the_batch() -> None:
    app = App()
    async with serving(app) as url, connect(url, compression="deflate") as ws:
        assert ws.protocol.extensions  # permessage-deflate is on for this connection
        received = [message async for message in ws]
    assert received == ["asgi 1", "batch 1", "batch 2", "é" * 200, "asgi 2", "x" * 70_000]
    assert app.results == [False, True, True, False]
