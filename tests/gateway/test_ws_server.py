"""The media socket's write extension, under a real uvicorn with a websockets client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from bin.server import free_port
from gateway.ws_frames import FrameSplitter, MaskKeys, client_text_frame
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


# ------------------------------------------------------------- the frame splitter
def client_stream() -> tuple[bytes, list[bytes]]:
    """Frames as a websockets client writes them, and what the splitter must make of
    each: the unmasked payload of a plain text frame, else the frame's own bytes."""
    client = ClientProtocol(parse_uri("ws://127.0.0.1/twilio/media"), max_size=None)
    client.state = State.OPEN
    stream: list[bytes] = []
    expected: list[bytes] = []

    def take(payload: bytes | None) -> None:
        [frame] = client.data_to_send()
        stream.append(frame)
        expected.append(frame if payload is None else payload)

    for text in ["a", "é" * 100, "x" * 200, "y" * 70_000]:
        client.send_text(text.encode())
        take(text.encode())
    client.send_ping(b"ping")
    take(None)
    client.send_text(b"frag-", fin=False)  # a fragmented message, with a ping inside it
    take(None)
    client.send_ping(b"inside")
    take(None)
    client.expect_continuation_frame = False  # write what a broken client would:
    client.send_text(b"not-a-continuation")  # invalid here, so for the library to judge
    take(None)
    client.expect_continuation_frame = True
    client.send_continuation(b"ment", fin=True)
    take(None)
    client.send_binary(b"\x00\x01")
    take(None)
    client.send_text(b"plain again")
    take(b"plain again")
    return b"".join(stream), expected


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, 1000, 10**6])
def test_the_splitter_cuts_the_same_frames_from_any_slicing_of_the_stream(step: int) -> None:
    data, expected = client_stream()
    splitter = FrameSplitter(2**20, masked=True, hold_up_to=2**20)
    got: list[bytes] = []
    for i in range(0, len(data), step):
        for payload, frame in splitter.split(data[i : i + step]):
            got.append(frame if payload is None else payload)
    assert got == expected


@pytest.mark.parametrize("step", [1, 3, 64, 1000, 10**6])
def test_a_long_frame_goes_to_the_library_as_it_comes_and_splitting_resumes_after(
    step: int,
) -> None:
    data, expected = client_stream()
    splitter = FrameSplitter(2**20, masked=True, hold_up_to=150)  # "x" * 200 is long
    out = [part for i in range(0, len(data), step) for part in splitter.split(data[i : i + step])]
    # The stream reaches the library whole and in order; short plain frames are still cut.
    assert b"".join(frame for _, frame in out) == data
    payloads = [payload for payload, _ in out if payload is not None]
    assert payloads[0] == b"a" and payloads[-1] == b"plain again"
    assert set(payloads) <= set(expected)
    if step <= 64:  # the long frames came in pieces: none of them was held back to cut
        assert b"x" * 200 not in payloads


def test_a_frame_over_the_limit_hands_the_rest_of_the_stream_to_the_library() -> None:
    data, _ = client_stream()  # its fourth frame carries 70,000 bytes
    splitter = FrameSplitter(65_536, masked=True)
    out = splitter.split(data[:1000]) + splitter.split(data[1000:])
    assert [payload for payload, _ in out[:3]] == [b"a", "é".encode() * 100, b"x" * 200]
    assert all(payload is None for payload, _ in out[3:])
    assert b"".join(frame for _, frame in out[3:]) == data[len(b"".join(f for _, f in out[:3])) :]


async def test_pings_fragments_and_bad_utf8_are_the_librarys_as_before() -> None:
    app = ReadingApp()
    async with serving(app) as url, connect(url, compression=None) as ws:
        await ws.send("fast 1")
        await asyncio.wait_for(await ws.ping(), 5)  # answered by the library
        await ws.send(["frag", "mented"])  # a fragmented message reaches receive()
        await ws.send("fast 2")
        ws.transport.write(client_text_frame(b"fast \xff", MaskKeys()))  # not UTF-8
        await asyncio.wait_for(app.done.wait(), 5)
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert [text for _, text in app.log] == ["fast 1", "fragmented", "fast 2"]
    assert app.log[:2] == [("reader", "fast 1"), ("receive", "fragmented")]
    assert ws.close_code == 1007
