"""Everything a gateway process shares between calls, wired in one place.

With ``PARLEY_REDIS_URL`` set, the registry, the live bus, the call limits and call
control are the Redis ones, shared with every other gateway process; otherwise they
are in-process. Either way the routes and the runner speak to the same interfaces.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from agent_tools.registry import ToolRegistry
from agent_tools.runtime import ToolRuntime
from backoffice.calls.records import RecordsResolver
from backoffice.calls.remote import RemoteRecordsFactory, remote_factory
from backoffice.store.db import Database
from backoffice.vault import Vault
from config.settings import Settings
from gateway.agent_session import AgentConnector
from gateway.call_control import CallControl
from gateway.call_limits import CallLimiter, InProcessLimiter
from gateway.calls import CallRecord, CallRegistry
from gateway.elevenlabs_api import ElevenLabsApi
from gateway.gc_policy import CollectorPolicy
from gateway.hub import EventBus, LiveEvent
from gateway.live_log import CallEventLog
from gateway.metrics import GatewayMetrics
from gateway.prewarm import PrewarmPool
from gateway.redis_link import RedisLink, RedisUnavailable
from gateway.twilio_rest import TwilioVoice
from gateway.twilio_signature import TwilioSignatures

if TYPE_CHECKING:
    from gateway.call_runner import CallRunner

log = structlog.get_logger(__name__)

#: What the process running a call writes at its end (others write its status).
END_FIELDS = (
    "answered_at",
    "ended_at",
    "end_reason",
    "outcome",
    "conversation_id",
    "recording_path",
    "transcript",
)
SHARED_WRITE_RETRY_S = 60.0


@dataclass
class FrameTotals:
    """Frame counts of calls that have ended (live calls are summed on scrape)."""

    caller_to_agent: int = 0
    agent_to_caller: int = 0


@dataclass
class Services:
    settings: Settings
    calls: CallRegistry
    hub: EventBus
    connector: AgentConnector
    prewarm: PrewarmPool
    voice: TwilioVoice
    tools: ToolRegistry
    signatures: TwilioSignatures
    database: Database
    elevenlabs: ElevenLabsApi
    limits: CallLimiter = field(default_factory=InProcessLimiter)
    redis: RedisLink | None = None
    metrics: GatewayMetrics = field(init=False)
    control: CallControl = field(init=False)
    records: RecordsResolver = field(init=False)
    remote_records: RemoteRecordsFactory = field(init=False)
    tool_runtime: ToolRuntime = field(init=False)
    runners: dict[str, CallRunner] = field(default_factory=dict)
    live_log: CallEventLog = field(default_factory=CallEventLog)
    ended_totals: FrameTotals = field(default_factory=FrameTotals)
    draining: bool = False
    media_sockets: int = 0  # open Twilio media sockets, running a call or about to
    # Wall clock for business rules (contact hours); tests pin it, the call path never reads it.
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    sweeper: asyncio.Task[None] | None = None
    resender: asyncio.Task[None] | None = None
    #: The serving process's collector policy (``parley serve``); None in tests.
    collector: CollectorPolicy | None = None
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.control = CallControl(self.runners, self.prewarm, self.calls.gateway_id, self.redis)
        self.metrics = GatewayMetrics(self.frame_totals)
        self.metrics.active_calls.set_function(lambda: len(self.runners))
        # The clock is read through the field at call time, so a test's pinned clock holds.
        vault = Vault(self.settings.secret_key.get_secret_value().encode())
        self.remote_records = remote_factory(self.database, vault, clock=lambda: self.clock())
        self.records = RecordsResolver(
            self.database, lambda: self.clock(), remote=self.remote_records
        )
        self.tool_runtime = ToolRuntime(
            self.tools, self.database, self.records, lambda: self.clock()
        )

    def frame_totals(self) -> dict[str, int]:
        c2a = self.ended_totals.caller_to_agent
        a2c = self.ended_totals.agent_to_caller
        for runner in list(self.runners.values()):
            c2a += runner.bridge.frames_to_agent
            a2c += runner.bridge.playout.frames_sent
        return {"caller_to_agent": c2a, "agent_to_caller": a2c}

    def stream_closed(self) -> None:
        """A media socket has closed: with no call left, let the collector run."""
        if self.collector is not None and self.idle():
            self.collector.idle(self.idle)

    def idle(self) -> bool:
        """No call running and no media socket open (one may be about to start)."""
        return not self.media_sockets and not self.runners

    def publish(self, event: LiveEvent) -> None:
        """Publish a live event: kept in the call's log, then fanned out by the hub."""
        self.live_log.add(event)
        self.hub.publish(event)

    def live_backlog(
        self, org_id: str, call_sid: str | None, active: list[CallRecord]
    ) -> list[LiveEvent]:
        """What a new subscriber is shown first: one call's events so far, or a
        ``call.snapshot`` of each of the organization's ``active`` calls (card and state).

        Call it right after subscribing, with no ``await`` in between, so that the
        backlog and the subscription neither overlap nor leave a gap (``active`` is
        read from the registry, which may be shared, just before subscribing).
        """
        if call_sid is not None:
            return self.live_log.history(org_id, call_sid)
        out = []
        for record in active:
            if record.call_sid:
                state = {**record.card(), **self.live_log.state(org_id, record.call_sid)}
                state["status"] = record.status
                out.append(LiveEvent(org_id, record.call_sid, "call.snapshot", state))
        return out

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run work beside the calls; it is awaited (or cancelled) on shutdown."""
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def runner_for(self, record: CallRecord) -> CallRunner | None:
        return self.runners.get(record.call_sid)

    @property
    def gateway_id(self) -> str:
        return self.calls.gateway_id

    def call_ended(self, record: CallRecord) -> None:
        """Share the end of a call and free its slot, beside the call path.

        Retried while Redis is away (up to a minute), so an end that happened during
        an outage is not lost once Redis is back.
        """
        self.spawn(self._share_end(record), "call-ended")

    async def _share_end(self, record: CallRecord) -> None:
        await self.retrying("calls.save_end", lambda: self.calls.save(record, *END_FIELDS))
        await self.retrying(
            "limits.release", lambda: self.limits.release(record.org_id, record.call_ref)
        )

    async def retrying(self, what: str, op: Callable[[], Coroutine[Any, Any, Any]]) -> bool:
        """Run ``op`` until it reaches the shared store (or give up after a while)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHARED_WRITE_RETRY_S
        delay = 0.1
        while True:
            try:
                await op()
                return True
            except RedisUnavailable:
                if loop.time() + delay > deadline:
                    log.error("shared.write_lost", what=what)
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def start(self) -> None:
        """Start the shared backends' background work (heartbeat, pub/sub)."""
        if self.redis is not None:
            self.redis.start()
        self.hub.start()
        self.calls.start()
        self.control.start()

    async def aclose(self) -> None:
        for task in (self.sweeper, self.resender):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for runner in list(self.runners.values()):
            runner.request_hang_up("shutdown")
        await self.prewarm.close_all()
        if self._background:
            await asyncio.wait(list(self._background), timeout=5)
        for task in list(self._background):
            task.cancel()
        await self.voice.close()
        await self.hub.aclose()
        await self.calls.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.remote_records.aclose()
