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
from gateway.ws_server import READ_TEXT, WRITE_TEXT, MediaWebSocketProtocol


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


class ReadingApp:
    """Takes messages starting with "fast" through the reader, declines the others."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.done = asyncio.Event()

    def reader(self, text: str) -> bool:
        if not text.startswith("fast"):
            return False
        self.log.append(("reader", text))
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        set_reader = scope["extensions"][READ_TEXT]
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        set_reader(self.reader)
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                break
            self.log.append(("receive", message.get("text") or repr(message.get("bytes"))))
            if message.get("text") == "stop reading":
                set_reader(None)
            await asyncio.sleep(0)  # let more data arrive while this one is handled
        self.done.set()


async def test_the_reader_sees_messages_in_order_and_declined_ones_reach_receive() -> None:
    app = ReadingApp()
    sent = [f"fast {i}" for i in range(5)] + ["slow 1", "fast 5", "fast 6", "slow 2"]
    sent += [f"fast {i}" for i in range(7, 40)] + ["stop reading", "fast 40", "fast 41"]
    async with serving(app) as url, connect(url, compression=None) as ws:
        for text in sent:
            await ws.send(text)
        await ws.send(b"binary")
        await ws.close()
        await app.done.wait()
    assert [text for _, text in app.log] == [*sent, "b'binary'"]
    assert {text for path, text in app.log if path == "receive"} >= {"slow 1", "slow 2"}
    assert ("reader", "fast 0") in app.log
    assert all(path == "receive" for path, _ in app.log[-3:])  # after set_reader(None)
