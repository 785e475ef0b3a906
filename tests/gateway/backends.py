"""Both backends of every two-backend interface (registry, live bus, limits), for tests.

A test takes the ``backend`` fixture and runs once in-process and once on a real
``redis-server``. On Redis each test gets a key prefix of its own, and
:meth:`Backend.process` gives it "another gateway process": a second link with its
own gateway id on the same Redis and prefix.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from gateway.call_limits import CallLimiter, InProcessLimiter
from gateway.call_limits_redis import RedisLimiter
from gateway.calls import CallRegistry, InMemoryCallRegistry
from gateway.calls_redis import RedisCallRegistry
from gateway.hub import EventBus, InProcessBus
from gateway.live_redis import RedisBus
from gateway.redis_link import RedisLink
from gateway.standins.waiting import poll_until
from tests.redis_server import RedisServer


@dataclass
class Backend:
    name: str
    redis: RedisServer | None = None
    prefix: str = ""
    links: list[RedisLink] = field(default_factory=list)

    @property
    def shared(self) -> bool:
        return self.redis is not None

    def process(self, gateway_id: str = "gw-a") -> RedisLink:
        assert self.redis is not None, "only the Redis backend has other processes"
        link = RedisLink(self.redis.url, gateway_id, prefix=self.prefix)
        link.start()
        self.links.append(link)
        return link

    def registry(self, gateway_id: str = "gw-a", **options: float) -> CallRegistry:
        if self.redis is None:
            return InMemoryCallRegistry(gateway_id=gateway_id, **options)  # type: ignore[arg-type]
        return RedisCallRegistry(self.process(gateway_id), **options)

    def bus(self, gateway_id: str = "gw-a") -> EventBus:
        bus: EventBus = InProcessBus() if self.redis is None else RedisBus(self.process(gateway_id))
        bus.start()
        return bus

    def limiter(self, gateway_id: str = "gw-a") -> CallLimiter:
        if self.redis is None:
            return InProcessLimiter()
        return RedisLimiter(self.process(gateway_id))

    async def aclose(self) -> None:
        for link in self.links:
            await link.aclose()


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        chosen = Backend("memory")
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        chosen = Backend("redis", server, prefix=f"t{uuid.uuid4().hex[:10]}:")
    try:
        yield chosen
    finally:
        await chosen.aclose()


@pytest.fixture
async def shared(redis_server: RedisServer) -> AsyncIterator[Backend]:
    """The Redis backend alone, for what only a shared backend does (other processes)."""
    chosen = Backend("redis", redis_server, prefix=f"t{uuid.uuid4().hex[:10]}:")
    try:
        yield chosen
    finally:
        await chosen.aclose()


async def subscribed(bus: EventBus, org_id: str) -> None:
    """Wait until events of ``org_id`` published anywhere reach ``bus``."""
    await poll_until(lambda: bus.listening(org_id), 5)
