"""The agent socket's connection: messages taken in data_received, in order, under a
real websockets server (the agent's side) and the library's own client machinery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import BytesLike

from gateway.ws_client import AgentConnection

Script = list[str | bytes | list[str]]


CLOSES_RECEIVED: list[int | None] = []


@asynccontextmanager
async def agent_sending(script: Script) -> AsyncIterator[str]:
    """A server that sends ``script`` (a list: a fragmented message), waiting for the
    client's ``go`` before each item, then closes; ``bad utf-8`` is a text frame that
    is not UTF-8. The close code each connection received goes to CLOSES_RECEIVED."""

    async def handler(ws: ServerConnection) -> None:
        try:
            for item in script:
                await ws.recv()  # "go": the client is ready for the next one
                if item == "bad utf-8":
                    ws.transport.write(b"\x81\x02\xc3\x28")
                else:
                    await ws.send(item)
            await ws.recv()
            await ws.close()
        except ConnectionClosed:
            pass
        CLOSES_RECEIVED.append(ws.close_code)

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


class Reader:
    """Reads the way AgentSession does: offers on from the reading task only."""

    def __init__(self, ws: AgentConnection, decline: set[str]) -> None:
        self.ws = ws
        self.decline = decline
        self.log: list[tuple[str, str]] = []

    def now(self, data: BytesLike) -> bool:
        text = bytes(data).decode()
        if text in self.decline:
            return False
        self.log.append(("now", text))
        return True

    async def run(self, items: int) -> None:
        ws = self.ws
        await ws.send("go")
        try:
            while len(self.log) < items:
                try:
                    message = await asyncio.wait_for(ws.recv(), 0.05)
                except TimeoutError:
                    pass  # it was taken in data_received
                else:
                    text = message if isinstance(message, str) else repr(message)
                    self.log.append(("recv", text))
                ws.offer_texts(self.now)
                await ws.send("go")
        except ConnectionClosed:
            pass


def agent_socket(url: str) -> connect:
    return connect(url, compression=None, create_connection=AgentConnection)


async def read_all(script: Script, decline: frozenset[str] = frozenset()) -> Reader:
    async with agent_sending(script) as url, agent_socket(url) as ws:
        assert isinstance(ws, AgentConnection)
        reader = Reader(ws, set(decline))
        await asyncio.wait_for(reader.run(len(script)), 10)
    return reader


async def test_text_messages_are_taken_at_once_once_offers_are_on() -> None:
    reader = await read_all(["one", "two", "three"])
    assert reader.log == [("recv", "one"), ("now", "two"), ("now", "three")]


async def test_declined_fragmented_and_binary_messages_reach_recv_in_order() -> None:
    script: Script = ["one", "two", "slow", "three", ["frag", "mented"], "four", b"\x00", "five"]
    reader = await read_all(script, decline=frozenset({"slow"}))
    assert [text for _, text in reader.log] == [
        "one", "two", "slow", "three", "fragmented", "four", "b'\\x00'", "five",
    ]
    assert {text: path for path, text in reader.log} == {
        "one": "recv", "two": "now", "slow": "recv", "three": "now",
        "fragmented": "recv", "four": "now", "b'\\x00'": "recv", "five": "now",
    }


async def test_offers_wait_while_messages_are_queued() -> None:
    async with agent_sending(["a", "b"]) as url, agent_socket(url) as ws:
        assert isinstance(ws, AgentConnection)
        await ws.send("go")
        await ws.send("go")
        await asyncio.sleep(0.2)  # both arrive and wait in the library's queue
        assert not ws.offer_texts(lambda data: True)
        assert await ws.recv() == "a"
        assert await ws.recv() == "b"
        assert ws.offer_texts(lambda data: True)


async def test_text_that_is_not_utf8_still_closes_the_socket_with_1007() -> None:
    taken: list[bytes] = []

    def now(data: BytesLike) -> bool:
        try:
            taken.append(bytes(data).decode().encode())
        except UnicodeDecodeError:
            return False  # what AgentSession does: the library's to refuse
        return True

    async with agent_sending(["one", "bad utf-8"]) as url, agent_socket(url) as ws:
        assert isinstance(ws, AgentConnection)
        await ws.send("go")
        assert await ws.recv() == "one"
        assert ws.offer_texts(now)
        await ws.send("go")
        with contextlib.suppress(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert taken == []
    await asyncio.sleep(0.1)
    assert CLOSES_RECEIVED[-1] == 1007  # the client refused the frame, as the library does
