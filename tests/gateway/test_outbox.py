"""A peer's outbox keeps every batch in order, however each one is written.

What a caller would notice otherwise: a ``clear`` written at once while the audio
before it still waits for the socket would reach Twilio first, and the stale audio
after it would play after the caller interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from gateway.outbox import Outbox, WriteNow


class FakePeer:
    """A socket that is writable at once only while ``room`` is true, and whose
    awaited sends complete only when the test lets them (``gate``)."""

    def __init__(self) -> None:
        self.room = True
        self.open = True
        self.received: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.tasks: list[asyncio.Task[None]] = []

    def write_now(self, messages: list[str]) -> bool:
        if not self.room:
            return False
        self.received.extend(messages)
        return True

    async def send_one(self, text: str) -> None:
        await self.gate.wait()
        self.received.append(text)

    def is_open(self) -> bool:
        return self.open

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    def outbox(self, write_now: WriteNow | None) -> Outbox:
        """An outbox to this peer, written at once by ``write_now`` (None: never)."""
        return Outbox(
            write_now=write_now,
            send_one=self.send_one,
            is_open=self.is_open,
            spawn=self.spawn,
            name="to-peer",
        )

    async def settle(self) -> None:
        await asyncio.gather(*self.tasks)


async def test_a_batch_written_at_once_goes_straight_out() -> None:
    peer = FakePeer()
    box = peer.outbox(peer.write_now)
    assert box.now(["a", "b"])
    assert peer.received == ["a", "b"]
    assert peer.tasks == []


async def test_batches_after_a_waiting_one_queue_behind_it_even_when_the_socket_has_room() -> (
    None
):
    peer = FakePeer()
    box = peer.outbox(peer.write_now)
    peer.room = False
    peer.gate.clear()
    first = ["audio-1", "audio-2"]
    assert not box.now(first)
    box.later(first)
    await asyncio.sleep(0)
    peer.room = True  # the socket has room again, but audio-1 and 2 are still queued
    clear = ["clear"]
    assert not box.now(clear), "a batch may not overtake the ones waiting before it"
    box.later(clear)
    box.later(["audio-3"])
    peer.gate.set()
    await peer.settle()
    assert peer.received == ["audio-1", "audio-2", "clear", "audio-3"]
    assert box.now(["next"]), "once the backlog is out, batches go at once again"
    assert peer.received[-1] == "next"


async def test_a_prefix_written_at_once_is_not_sent_twice() -> None:
    peer = FakePeer()
    sent_now: list[str] = []

    def write_some(messages: list[str]) -> bool:
        sent_now.append(messages[0])
        del messages[:1]
        return False

    box = peer.outbox(write_some)
    batch = ["f1", "f2", "f3"]
    assert not box.now(batch)
    box.later(batch)
    await peer.settle()
    assert sent_now + peer.received == ["f1", "f2", "f3"]


async def test_send_waits_for_its_batch_and_queues_behind_a_running_sender() -> None:
    peer = FakePeer()
    box = peer.outbox(peer.write_now)
    peer.gate.clear()
    box.later(["a"])
    await asyncio.sleep(0)
    await box.send(["b"])  # returns at once: queued behind the sender that holds "a"
    assert peer.received == []
    peer.gate.set()
    await peer.settle()
    assert peer.received == ["a", "b"]
    await box.send(["c"])
    assert peer.received == ["a", "b", "c"]


async def test_once_the_peer_is_gone_nothing_more_is_sent_and_nothing_stale_is_kept() -> None:
    peer = FakePeer()
    box = peer.outbox(peer.write_now)
    peer.gate.clear()
    box.later(["a", "b"])
    box.later(["c"])
    await asyncio.sleep(0)
    peer.open = False
    peer.gate.set()
    await peer.settle()
    assert peer.received == ["a"]
    assert not box.now(["d"]), "a closed peer is never written at once"
    peer.open = True  # a new agent socket after a reconnect
    box.later(["e"])
    await peer.settle()
    assert peer.received == ["a", "e"], "audio queued for the old socket is not replayed"


async def test_without_a_write_now_function_every_batch_goes_through_the_sender() -> None:
    peer = FakePeer()
    box = peer.outbox(None)
    assert not box.now(["a"])
    await box.write(["a"])
    assert peer.received == ["a"]


async def test_write_goes_at_once_when_it_can_and_waits_its_turn_when_it_cannot() -> None:
    peer = FakePeer()
    box = peer.outbox(peer.write_now)
    await box.write(["a"])
    assert peer.received == ["a"] and peer.tasks == []
    peer.room = False
    peer.gate.clear()
    box.later(["b"])
    await asyncio.sleep(0)
    peer.room = True
    await box.write(["c"])  # behind "b", which still waits: queued, not written
    assert peer.received == ["a"]
    peer.gate.set()
    await peer.settle()
    assert peer.received == ["a", "b", "c"]
