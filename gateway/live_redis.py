"""The live event bus over Redis pub/sub, for many gateway processes.

Theory of operation:

- ``publish`` is what the call path calls, so it only appends to an outbox and wakes
  the publisher task; it never awaits, never fails, and never touches a socket.
- The publisher task sends the outbox in pipelined batches. Each event goes through
  one Lua script that takes the next number of one shared counter and publishes the
  event stamped with it, atomically: so ``seq`` increases across every process in the
  order Redis published, and each subscriber (who receives a channel in publish
  order) sees a call's events in ``seq`` order, wherever they came from.
- Events go to one channel per organization. Each process subscribes once per
  organization that has a local supervisor and fans out locally, so ten supervisors
  on one process cost one Redis delivery, not ten.
- Local supervisors hear their own process's events back through Redis too, so every
  supervisor sees one order and one numbering.
- When Redis is unavailable, events of this process still reach this process's
  supervisors (directly, with ``seq`` 0: not numbered by the bus), events of other
  processes do not, and every local supervisor is told: ``live.degraded`` when it
  starts (or when they subscribe during it), ``live.restored`` when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import orjson
import structlog

from gateway.hub import LiveEvent, Subscription
from gateway.redis_link import RedisLink, RedisUnavailable

log = structlog.get_logger(__name__)

DEGRADED = "live.degraded"
RESTORED = "live.restored"
BATCH = 256

# KEYS[1]: the shared counter, KEYS[2]: the channel; ARGV[1]: the event as a JSON
# object without "seq" (it is spliced in first, so the payload stays one object).
_PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', KEYS[2], '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2))
return seq
"""


class RedisBus:
    """An :class:`~gateway.hub.EventBus` for many processes; see the module docstring."""

    def __init__(
        self, link: RedisLink, subscriber_queue: int = 1000, outbox_limit: int = 20_000
    ) -> None:
        self._link = link
        self._limit = subscriber_queue
        self._outbox: deque[LiveEvent] = deque()
        self._outbox_limit = outbox_limit
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._subs: dict[str, set[Subscription]] = {}
        self._script = link.client.register_script(_PUBLISH)
        self._seq_key = link.key("live", "seq")
        self._degraded_since: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.dropped = 0
        link.on_health(self._health_changed)

    def channel(self, org_id: str) -> str:
        return self._link.key("live", org_id)

    # ---------------------------------------------------------------- publish
    def publish(self, event: LiveEvent) -> None:
        self.published += 1
        if not self._link.healthy:
            self._deliver(event)
            return
        if len(self._outbox) >= self._outbox_limit:
            self._outbox.popleft()
            self.dropped += 1
        self._outbox.append(event)
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._publish_forever(), name="live-publisher")

    async def aclose(self) -> None:
        """Send what is queued (briefly), then stop."""
        if self._task is None:
            return
        if self._outbox and self._link.healthy:
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), 1.0)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        for subs in self._subs.values():
            for sub in subs:
                sub.close()

    async def _publish_forever(self) -> None:
        outbox = self._outbox
        while True:
            await self._wake.wait()
            self._wake.clear()
            while outbox:
                batch = [outbox.popleft() for _ in range(min(BATCH, len(outbox)))]
                await self._send(batch)
            self._idle.set()

    async def _send(self, batch: list[LiveEvent]) -> None:
        try:
            async with self._link.client.pipeline(transaction=False) as pipe:
                for event in batch:
                    payload = orjson.dumps(
                        {
                            "org_id": event.org_id,
                            "call_sid": event.call_sid,
                            "ts": event.ts,
                            "type": event.type,
                            "data": event.data,
                        },
                        default=str,
                    )
                    keys = [self._seq_key, self.channel(event.org_id)]
                    await self._script(keys=keys, args=[payload], client=pipe)
                await self._link.call("live.publish", pipe.execute())
        except RedisUnavailable:
            # Redis is gone: this process's supervisors still see these events.
            for event in batch:
                self._deliver(event)

    # -------------------------------------------------------------- subscribe
    def subscribe(self, org_id: str, call_sid: str | None = None) -> Subscription:
        sub = Subscription(org_id, call_sid, self._limit)
        subs = self._subs.setdefault(org_id, set())
        if not subs:
            self._link.listen(self.channel(org_id), self._on_message)
        subs.add(sub)
        if self._degraded_since is not None:
            sub.offer(self._notice(org_id, DEGRADED, self._degraded_since))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.org_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.org_id]
                self._link.unlisten(self.channel(sub.org_id))
        sub.close()

    def listening(self, org_id: str) -> bool:
        """True once Redis delivers this organization's events to this process."""
        return self._link.is_listening(self.channel(org_id))

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())

    @property
    def degraded(self) -> bool:
        return self._degraded_since is not None

    def _on_message(self, _channel: str, data: bytes) -> None:
        try:
            raw: dict[str, Any] = orjson.loads(data)
            event = LiveEvent(
                str(raw["org_id"]),
                str(raw["call_sid"]),
                str(raw["type"]),
                raw.get("data") or {},
                int(raw["seq"]),
                float(raw["ts"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("live.bad_message")
            return
        self._deliver(event)

    def _deliver(self, event: LiveEvent) -> None:
        for sub in self._subs.get(event.org_id, ()):
            if sub.wants(event):
                sub.offer(event)

    # ----------------------------------------------------------------- health
    def _health_changed(self, healthy: bool) -> None:
        if healthy:
            since, self._degraded_since = self._degraded_since, None
            kind, at = RESTORED, since or time.time()
        else:
            self._degraded_since = at = time.time()
            kind = DEGRADED
        for org_id, subs in self._subs.items():
            notice = self._notice(org_id, kind, at)
            for sub in subs:
                sub.offer(notice)

    @staticmethod
    def _notice(org_id: str, kind: str, since: float) -> LiveEvent:
        data: dict[str, Any] = {"since": since}
        if kind == DEGRADED:
            data["reason"] = (
                "Redis is unavailable: calls continue, but this view only shows calls "
                "of the gateway it is connected to, and may miss events"
            )
        return LiveEvent(org_id, "", kind, data)
