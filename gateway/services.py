"""Everything a gateway process shares between calls, wired in one place."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_tools.registry import ToolRegistry
from agent_tools.runtime import ToolRuntime
from backoffice.calls.records import RecordsResolver
from backoffice.calls.remote import RemoteRecordsFactory, remote_factory
from backoffice.store.db import Database
from backoffice.vault import Vault
from config.settings import Settings
from gateway.agent_session import AgentConnector
from gateway.calls import CallRecord, InMemoryCallRegistry
from gateway.elevenlabs_api import ElevenLabsApi
from gateway.hub import InProcessBus, LiveEvent
from gateway.live_log import CallEventLog
from gateway.metrics import GatewayMetrics
from gateway.prewarm import PrewarmPool
from gateway.twilio_rest import TwilioVoice
from gateway.twilio_signature import TwilioSignatures

if TYPE_CHECKING:
    from gateway.call_runner import CallRunner


@dataclass
class FrameTotals:
    """Frame counts of calls that have ended (live calls are summed on scrape)."""

    caller_to_agent: int = 0
    agent_to_caller: int = 0


@dataclass
class Services:
    settings: Settings
    calls: InMemoryCallRegistry
    hub: InProcessBus
    connector: AgentConnector
    prewarm: PrewarmPool
    voice: TwilioVoice
    tools: ToolRegistry
    signatures: TwilioSignatures
    database: Database
    elevenlabs: ElevenLabsApi
    metrics: GatewayMetrics = field(init=False)
    records: RecordsResolver = field(init=False)
    remote_records: RemoteRecordsFactory = field(init=False)
    tool_runtime: ToolRuntime = field(init=False)
    runners: dict[str, CallRunner] = field(default_factory=dict)
    live_log: CallEventLog = field(default_factory=CallEventLog)
    ended_totals: FrameTotals = field(default_factory=FrameTotals)
    draining: bool = False
    # Wall clock for business rules (contact hours); tests pin it, the call path never reads it.
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    sweeper: asyncio.Task[None] | None = None
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
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

    def publish(self, event: LiveEvent) -> None:
        """Publish a live event: kept in the call's log, then fanned out by the hub."""
        self.live_log.add(event)
        self.hub.publish(event)

    def live_backlog(self, org_id: str, call_sid: str | None) -> list[LiveEvent]:
        """What a new subscriber is shown first: one call's events so far, or a
        ``call.snapshot`` of each active call of the organization (card and state).

        Call it right after subscribing, with no ``await`` in between, so that the
        backlog and the subscription neither overlap nor leave a gap.
        """
        if call_sid is not None:
            return self.live_log.history(org_id, call_sid)
        out = []
        for record in self.calls.active(org_id):
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

    async def aclose(self) -> None:
        if self.sweeper is not None:
            self.sweeper.cancel()
            await asyncio.gather(self.sweeper, return_exceptions=True)
        for runner in list(self.runners.values()):
            runner.request_hang_up("shutdown")
        await self.prewarm.close_all()
        if self._background:
            await asyncio.wait(list(self._background), timeout=5)
        for task in list(self._background):
            task.cancel()
        await self.voice.close()
        await self.remote_records.aclose()
