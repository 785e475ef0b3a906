"""One gateway process's link to Redis: a client, a pub/sub listener, and its health.

Theory of operation:

- Every Redis user of the process (registry, live bus, call control, limits) shares
  one :class:`RedisLink`. Commands go through ``link.client`` with short socket
  timeouts, so a Redis that is gone costs a call set-up one second at most, and never
  touches the media frame path (nothing there awaits Redis).
- Any command that fails calls :meth:`RedisLink.failed`; any that succeeds calls
  :meth:`RedisLink.succeeded`. Health flips only on those transitions, and each flip
  is reported once to the listeners (the live bus turns it into ``live.degraded`` /
  ``live.restored`` for supervisors).
- Pub/sub runs on one connection per process, owned by a listener task. Channels are
  *wanted* (a set), and the task makes Redis match the set; when the connection drops
  it reconnects with backoff and subscribes to the whole set again. So subscribing is
  synchronous for callers, and no caller ever waits on Redis to subscribe.
- The heartbeat probe (:meth:`RedisLink.run_every`) keeps a loop that also notices
  when Redis comes back while nothing else is talking to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

log = structlog.get_logger(__name__)

COMMAND_TIMEOUT_S = 2.0
RECONNECT_MAX_S = 2.0

MessageHandler = Callable[[str, bytes], None]
HealthListener = Callable[[bool], None]


def new_gateway_id() -> str:
    """A name for this process that no other process (here or on another host) shares."""
    host = socket.gethostname().split(".")[0][:32] or "gw"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


class RedisUnavailable(Exception):
    """Redis did not answer; the request that needed it cannot be served right now."""


class RedisLink:
    """See the module docstring. Nothing connects until :meth:`start`."""

    def __init__(self, url: str, gateway_id: str, prefix: str = "parley:") -> None:
        self.url = url
        self.gateway_id = gateway_id
        self.prefix = prefix
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=COMMAND_TIMEOUT_S,
            socket_connect_timeout=COMMAND_TIMEOUT_S,
            # A pooled connection may be stale after Redis restarted: each command gets
            # a few quick retries (each on a fresh connection) before it counts as failed.
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 3),
            health_check_interval=1,
        )
        self.healthy = True
        self.failures = 0
        self._health_listeners: list[HealthListener] = []
        self._handlers: dict[str, MessageHandler] = {}
        self._subscribed: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # ------------------------------------------------------------------ health
    def on_health(self, listener: HealthListener) -> None:
        self._health_listeners.append(listener)

    def failed(self, exc: BaseException, where: str) -> None:
        self.failures += 1
        if self.healthy:
            self.healthy = False
            log.warning("redis.unavailable", where=where, error=str(exc)[:200])
            self._tell(False)

    def succeeded(self) -> None:
        if not self.healthy:
            self.healthy = True
            log.info("redis.restored")
            # Connections pooled before the outage point at a server that is gone.
            self._spawn(self._fresh_pool(), "redis-pool-reset")
            self._tell(True)

    async def _fresh_pool(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.client.connection_pool.disconnect(inuse_connections=False)

    def _tell(self, healthy: bool) -> None:
        for listener in list(self._health_listeners):
            try:
                listener(healthy)
            except Exception:  # a listener's bug must not stop the others
                log.exception("redis.health_listener_failed")

    async def call(self, where: str, command: Awaitable[Any]) -> Any:
        """Await a command, keeping health current.

        Raises:
            RedisUnavailable: Redis failed or did not answer in time.
        """
        try:
            result = await command
        except (RedisError, OSError) as exc:
            self.failed(exc, where)
            raise RedisUnavailable(where) from exc
        self.succeeded()
        return result

    # ----------------------------------------------------------------- pub/sub
    def listen(self, channel: str, handler: MessageHandler) -> None:
        """Deliver every message of ``channel`` to ``handler`` (on the loop, in order)."""
        self._handlers[channel] = handler
        self._wake.set()

    def unlisten(self, channel: str) -> None:
        self._handlers.pop(channel, None)
        self._wake.set()

    def is_listening(self, channel: str) -> bool:
        """True once Redis confirmed the subscription (messages will arrive)."""
        return channel in self._subscribed

    # -------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._spawn(self._listen_forever(), "redis-pubsub")

    def run_every(self, period_s: float, job: Callable[[], Awaitable[None]], name: str) -> None:
        """Run ``job`` every ``period_s`` until :meth:`aclose` (its errors are logged)."""

        async def loop() -> None:
            while not self._closing:
                try:
                    await job()
                except RedisUnavailable:
                    pass  # already counted and logged as a health change
                except Exception:
                    log.exception("redis.periodic_failed", job=name)
                await asyncio.sleep(period_s)

        self._spawn(loop(), name)

    def _spawn(self, coro: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        self._closing = True
        self._wake.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await self.client.aclose()

    async def _listen_forever(self) -> None:
        backoff = 0.05
        while not self._closing:
            pubsub = self.client.pubsub(ignore_subscribe_messages=False)
            try:
                await self._pump(pubsub)
            except (RedisError, OSError) as exc:
                self.failed(exc, "pubsub")
                self._subscribed.clear()
                self._wake.set()  # the next connection subscribes to every wanted channel
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_S)
                continue
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            backoff = 0.05

    async def _pump(self, pubsub: aioredis.client.PubSub) -> None:
        # Subscribing at least one channel opens the connection; ours is a channel
        # nobody publishes on, so the socket exists even before the first listener.
        await pubsub.subscribe(self.key("gw", self.gateway_id, "alive"))
        while not self._closing:
            await self._reconcile(pubsub)
            message = await pubsub.get_message(timeout=0.2)
            if message is None:
                continue
            self._dispatch(message)
            # Drain what is already buffered without a timer per message.
            while (message := await pubsub.get_message(timeout=0)) is not None:
                self._dispatch(message)

    async def _reconcile(self, pubsub: aioredis.client.PubSub) -> None:
        if not self._wake.is_set():
            return
        self._wake.clear()
        wanted = set(self._handlers)
        extra = self._subscribed - wanted
        missing = wanted - self._subscribed
        if missing:
            await pubsub.subscribe(*missing)
        if extra:
            await pubsub.unsubscribe(*extra)
            self._subscribed -= extra

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = message["channel"]
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        if kind == "subscribe":
            self.succeeded()
            if name in self._handlers:
                self._subscribed.add(name)
            return
        if kind != "message":
            return
        handler = self._handlers.get(name)
        if handler is None:
            return
        try:
            handler(name, message["data"])
        except Exception:
            log.exception("redis.handler_failed", channel=name)
