"""The live event bus, on both backends: what a supervisor receives, and in what order."""

from __future__ import annotations

import asyncio

from gateway.hub import EventBus, LiveEvent, Subscription
from gateway.live_redis import DEGRADED, RESTORED, RedisBus
from gateway.redis_link import RedisLink
from gateway.standins.waiting import poll_until
from tests.gateway.backends import Backend, backend, shared, subscribed
from tests.redis_server import RedisServer

__all__ = ["backend", "shared"]


def event(call: str, n: int, org: str = "org_a", kind: str = "transcript") -> LiveEvent:
    return LiveEvent(org, call, kind, {"n": n})


async def take(sub: Subscription, count: int, timeout_s: float = 5.0) -> list[LiveEvent]:
    got: list[LiveEvent] = []
    async with asyncio.timeout(timeout_s):
        while len(got) < count:
            nxt = await sub.next()
            assert nxt is not None
            got.append(nxt)
    return got


def other(backend: Backend, bus: EventBus) -> EventBus:
    return backend.bus("gw-b") if backend.shared else bus


async def test_a_supervisor_sees_only_its_organization_and_its_call(backend: Backend) -> None:
    bus = backend.bus()
    everything = bus.subscribe("org_a")
    one_call = bus.subscribe("org_a", "CA1")
    await subscribed(bus, "org_a")
    bus.publish(event("CA1", 1))
    bus.publish(event("CA9", 1, org="org_b"))
    bus.publish(event("CA2", 2))
    bus.publish(event("CA1", 3))
    assert [(e.call_sid, e.data["n"]) for e in await take(everything, 3)] == [
        ("CA1", 1),
        ("CA2", 2),
        ("CA1", 3),
    ]
    assert [e.data["n"] for e in await take(one_call, 2)] == [1, 3]
    await aclose(bus)


async def test_events_published_on_two_processes_arrive_in_one_numbered_order(
    backend: Backend,
) -> None:
    """The media side (A) and the webhooks side (B) both publish one call's events."""
    media_side = backend.bus("gw-a")
    webhook_side = other(backend, media_side)
    watcher_bus = backend.bus("gw-c") if backend.shared else media_side
    watchers = [watcher_bus.subscribe("org_a", "CA1") for _ in range(3)]
    here = media_side.subscribe("org_a", "CA1")
    await subscribed(watcher_bus, "org_a")
    await subscribed(media_side, "org_a")
    for n in range(1, 201):
        (media_side if n % 3 else webhook_side).publish(event("CA1", n))
        if n % 50 == 0:
            await asyncio.sleep(0)
    orders = []
    for sub in [*watchers, here]:
        got = await take(sub, 200)
        orders.append([(e.seq, e.data["n"]) for e in got])
        seqs = [e.seq for e in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == 200, "numbered, increasing, no repeats"
        from_a = [e.data["n"] for e in got if e.data["n"] % 3]
        from_b = [e.data["n"] for e in got if not e.data["n"] % 3]
        assert from_a == sorted(from_a) and from_b == sorted(from_b), "each side's order kept"
    assert all(order == orders[0] for order in orders), "every supervisor saw one order"
    await aclose(media_side, webhook_side, watcher_bus)


async def test_a_slow_supervisor_loses_its_oldest_events_and_is_told(backend: Backend) -> None:
    bus = backend.bus()
    slow = bus.subscribe("org_a")
    await subscribed(bus, "org_a")
    for n in range(1, 1101):  # the queue holds 1000
        bus.publish(event("CA1", n))
    await poll_until(lambda: slow.lagged >= 100, 5)
    first = await slow.next()
    assert first is not None and first.data["n"] == 101
    await aclose(bus)


async def test_a_supervisor_takes_everything_that_piled_up_at_once(backend: Backend) -> None:
    bus = backend.bus()
    sub = bus.subscribe("org_a")
    await subscribed(bus, "org_a")
    for n in range(1, 51):
        bus.publish(event("CA1", n))
    got: list[LiveEvent] = []
    async with asyncio.timeout(5):
        while len(got) < 50:  # the Redis backend may hand them over in more than one go
            got += await sub.take()
    assert [e.data["n"] for e in got] == list(range(1, 51))
    waiting = asyncio.create_task(sub.take())
    await asyncio.sleep(0.05)
    assert not waiting.done(), "with nothing queued, take waits for the next event"
    bus.publish(event("CA1", 51))
    assert [e.data["n"] for e in await asyncio.wait_for(waiting, 5)] == [51]
    bus.unsubscribe(sub)
    assert await sub.take() == []
    await aclose(bus)


async def test_an_unsubscribed_supervisor_gets_nothing_more(backend: Backend) -> None:
    bus = backend.bus()
    sub = bus.subscribe("org_a")
    await subscribed(bus, "org_a")
    bus.unsubscribe(sub)
    bus.publish(event("CA1", 1))
    assert await sub.next() is None
    assert bus.subscriber_count == 0
    await aclose(bus)


async def aclose(*buses: EventBus) -> None:
    for bus in set(buses):
        await bus.aclose()


# -------------------------------------------------- Redis only: Redis goes away
async def test_when_redis_goes_away_supervisors_are_told_and_local_events_still_arrive(
    shared: Backend,
) -> None:
    assert shared.redis is not None
    server: RedisServer = RedisServer()  # a Redis of this test's own, to kill and restart
    server.start()
    try:
        link = _link_on(shared, server, "gw-a")
        bus = _bus(link)
        sub = bus.subscribe("org_a")
        await subscribed(bus, "org_a")
        bus.publish(event("CA1", 1))
        assert [e.data["n"] for e in await take(sub, 1)] == [1]

        server.kill()
        bus.publish(event("CA1", 2))  # returns at once: the call path never waits on Redis
        got = await take(sub, 2, timeout_s=10)
        kinds = [e.type for e in got]
        assert DEGRADED in kinds
        assert degraded(bus)
        bus.publish(event("CA1", 3))
        local = [e for e in [*got, *await take(sub, 1)] if e.type == "transcript"]
        assert [e.data["n"] for e in local][-1] == 3, "this process's events still reach it"
        late = bus.subscribe("org_a", "CA1")
        assert (await take(late, 1))[0].type == DEGRADED, "a new supervisor learns it at once"

        server.start()
        restored = [e for e in await _until(sub, RESTORED) if e.type == RESTORED]
        assert restored and not degraded(bus)
        await subscribed(bus, "org_a")
        bus.publish(event("CA1", 4))
        after = await _until(sub, "transcript")
        assert after[-1].data["n"] == 4 and after[-1].seq > 0, "numbered through Redis again"
        await bus.aclose()
    finally:
        server.stop()


def degraded(bus: EventBus) -> bool:
    return bus.degraded


def _link_on(shared: Backend, server: RedisServer, gateway_id: str) -> RedisLink:
    link = RedisLink(server.url, gateway_id, prefix=shared.prefix)
    link.start()
    shared.links.append(link)
    return link


def _bus(link: RedisLink) -> RedisBus:
    bus = RedisBus(link)
    bus.start()
    return bus


async def _until(sub: Subscription, kind: str, timeout_s: float = 15.0) -> list[LiveEvent]:
    got: list[LiveEvent] = []
    async with asyncio.timeout(timeout_s):
        while not got or got[-1].type != kind:
            nxt = await sub.next()
            assert nxt is not None
            got.append(nxt)
    return got
