"""One shared clock per bench peer, with calls spread over the phases of their period.

Every call's periodic work (a caller frame, an agent chunk, a mark echo, a ping) is done
from one ticker instead of one sleeping task per call, so the load a peer puts on its
own event loop stays flat as calls are added.

Real calls are independent: their 20 ms frames are spread evenly over each 20 ms, not
sent at the same instant. So the ticker runs every ``TICK_NS`` (2 ms) and a call with a
``period`` of P ticks is served on tick ``k`` when ``k % P`` is its *slot*; with the
slots dealt round-robin, each tick serves 1/P of the calls. Ticks never drift (tick
``k`` is due at ``start + k * TICK_NS``); a late tick runs as soon as it can and its
lateness is kept, so a reader can tell whether the peer itself kept up. A tick's work
is synchronous (a send is a write on the socket's transport, see ``bench_ws``), so one
tick never waits on one slow socket.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections.abc import Callable
from typing import Generic, TypeVar

TICK_NS = 2_000_000

T = TypeVar("T")


class Slots(Generic[T]):
    """Members served every ``period`` ticks, each in its own slot of the period."""

    def __init__(self, period: int) -> None:
        self.period = period
        self.buckets: list[dict[int, T]] = [{} for _ in range(period)]

    def add(self, key: int, slot: int, member: T) -> None:
        self.buckets[slot % self.period][key] = member

    def remove(self, key: int, slot: int) -> None:
        self.buckets[slot % self.period].pop(key, None)

    def due(self, tick: int) -> list[T]:
        """The members served on ``tick`` (a copy: they may leave while being served)."""
        return list(self.buckets[tick % self.period].values())

    def members(self) -> list[T]:
        return [m for bucket in self.buckets for m in bucket.values()]

    def __len__(self) -> int:
        return sum(len(b) for b in self.buckets)


class Ticker:
    def __init__(self, on_tick: Callable[[int, int], None]) -> None:
        self._on_tick = on_tick
        self.tick = 0
        self.lateness_ns: array[int] = array("q")
        self.recording = True

    async def run(self, until_ns: int) -> None:
        """Tick until ``until_ns`` (monotonic); cancel the task to stop earlier."""
        due = time.monotonic_ns() + TICK_NS
        while due < until_ns:
            now = time.monotonic_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                now = time.monotonic_ns()
            if self.recording:
                self.lateness_ns.append(max(0, now - due))
            self._on_tick(self.tick, now)  # sends only queue bytes on sockets: no await
            self.tick += 1
            due += TICK_NS
