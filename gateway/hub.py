"""The live event hub: every call event, fanned out to the supervisors watching it.

Publishing never blocks and never fails the call: each subscriber has a bounded queue,
and a subscriber that falls behind loses its oldest events and is told so (a
``lagged`` event, sent by ``WS /live`` before the events that follow the gap) rather
than slowing the call down. The bus is an interface; this in-process one is
the default, and the Redis one (``gateway/live_redis.py``) stands behind the same
methods for many processes.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson


@dataclass(frozen=True, slots=True)
class LiveEvent:
    org_id: str
    call_sid: str
    type: str
    data: dict[str, Any]
    seq: int = 0
    ts: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "call_sid": self.call_sid,
                "seq": self.seq,
                "ts": self.ts,
                "type": self.type,
                "data": self.data,
            },
            default=str,
        ).decode()


class Subscription:
    """One supervisor's view: the events of one organization, optionally one call."""

    def __init__(self, org_id: str, call_sid: str | None, limit: int) -> None:
        self.org_id = org_id
        self.call_sid = call_sid
        self._events: deque[LiveEvent] = deque(maxlen=limit)
        self._ready = asyncio.Event()
        self.lagged = 0
        self.closed = False

    def wants(self, event: LiveEvent) -> bool:
        return event.org_id == self.org_id and (
            self.call_sid is None or event.call_sid == self.call_sid
        )

    def offer(self, event: LiveEvent) -> None:
        if len(self._events) == self._events.maxlen:
            self.lagged += 1
        self._events.append(event)
        self._ready.set()

    async def next(self) -> LiveEvent | None:
        """The next event, or None once the subscription is closed (one at a time)."""
        return self._events.popleft() if await self._wait() else None

    async def take(self) -> list[LiveEvent]:
        """Every event queued so far, waiting for one if there is none; [] once closed.

        ``WS /live`` reads this way: what piled up while the socket was busy goes out
        in one write, instead of one wake-up per event.
        """
        if not await self._wait():
            return []
        taken = list(self._events)
        self._events.clear()
        return taken

    async def _wait(self) -> bool:
        """Until an event is queued (True) or the subscription is closed with none (False)."""
        while not self._events:
            if self.closed:
                return False
            self._ready.clear()
            await self._ready.wait()
        return True

    def close(self) -> None:
        self.closed = True
        self._ready.set()


class EventBus(Protocol):
    """Two backends: :class:`InProcessBus` and ``gateway.live_redis.RedisBus``."""

    def publish(self, event: LiveEvent) -> None:
        """Hand an event over; never blocks, never raises (the call path calls it)."""
        ...

    def subscribe(self, org_id: str, call_sid: str | None = None) -> Subscription: ...
    def unsubscribe(self, sub: Subscription) -> None: ...
    def listening(self, org_id: str) -> bool:
        """True once events of ``org_id`` published anywhere reach this process."""
        ...

    @property
    def subscriber_count(self) -> int: ...
    @property
    def degraded(self) -> bool: ...
    def start(self) -> None: ...
    async def aclose(self) -> None: ...


class InProcessBus:
    """Fan-out inside one process; events get a per-bus increasing ``seq``."""

    def __init__(self, subscriber_queue: int = 1000) -> None:
        self._subs: set[Subscription] = set()
        self._limit = subscriber_queue
        self._seq = itertools.count(1)
        self.published = 0

    def publish(self, event: LiveEvent) -> None:
        self.published += 1
        if not self._subs:
            return
        stamped = LiveEvent(
            event.org_id, event.call_sid, event.type, event.data, next(self._seq), event.ts
        )
        for sub in self._subs:
            if sub.wants(stamped):
                sub.offer(stamped)

    def subscribe(self, org_id: str, call_sid: str | None = None) -> Subscription:
        sub = Subscription(org_id, call_sid, self._limit)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        sub.close()

    def listening(self, org_id: str) -> bool:
        return True

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    @property
    def degraded(self) -> bool:
        return False

    def start(self) -> None:
        return None

    async def aclose(self) -> None:
        for sub in list(self._subs):
            sub.close()
