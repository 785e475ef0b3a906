"""Agent sessions opened while Twilio is still connecting the media stream.

The TwiML request is the first moment a call is known; opening the agent there hides
the signed-URL fetch, the TLS handshake and the agent's boot behind Twilio's own
stream set-up (reference ``elevenlabs-convai.md`` §11.1). A session nobody claims
(the caller hung up while ringing, the stream never came) is closed after a timeout
so that it stops costing money.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from gateway.agent_session import AgentConnectError, AgentConnector, AgentSession

log = structlog.get_logger(__name__)


class PrewarmPool:
    def __init__(self, connector: AgentConnector, timeout_s: float) -> None:
        self._connector = connector
        self._timeout_s = timeout_s
        self._pending: dict[str, tuple[asyncio.Task[AgentSession], asyncio.TimerHandle]] = {}
        self.expired = 0
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._pending)

    def start(self, call_sid: str, initiation: str) -> None:
        """Begin opening the agent for ``call_sid``; a second start replaces the first."""
        self.discard(call_sid)
        task = asyncio.create_task(self._connector.open(initiation), name=f"prewarm-{call_sid}")
        loop = asyncio.get_running_loop()
        handle = loop.call_later(self._timeout_s, self._expire, call_sid)
        self._pending[call_sid] = (task, handle)

    def claim(self, call_sid: str) -> asyncio.Task[AgentSession] | None:
        """Take the (possibly still connecting) session of a call, or None."""
        entry = self._pending.pop(call_sid, None)
        if entry is None:
            return None
        task, handle = entry
        handle.cancel()
        return task

    def discard(self, call_sid: str) -> None:
        """Close the prewarmed session of a call that will not stream (if any)."""
        entry = self._pending.pop(call_sid, None)
        if entry is not None:
            entry[1].cancel()
            closing = asyncio.create_task(_close_when_open(entry[0]))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    def _expire(self, call_sid: str) -> None:
        if call_sid in self._pending:
            self.expired += 1
            log.info("prewarm.expired", call_sid=call_sid)
            self.discard(call_sid)

    async def close_all(self) -> None:
        entries = list(self._pending.values())
        self._pending.clear()
        for _task, handle in entries:
            handle.cancel()
        await asyncio.gather(*(_close_when_open(t) for t, _ in entries), *self._closing)


async def _close_when_open(task: asyncio.Task[AgentSession]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, AgentConnectError):
        session = await task
        await session.close()
