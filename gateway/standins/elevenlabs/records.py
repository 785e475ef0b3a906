"""What the ElevenLabs stand-in saw and did in one conversation, for tests to assert on.

Why: the stand-in is the gateway's peer, so it is the only honest witness of what
the gateway actually sent (the init message, pongs, tool results, audio) and of how
the conversation ended (close code, who closed). Everything is plain data, appended
as it happens; :meth:`ConversationRecord.wait_until` lets a test wait for a
condition without sleeping blindly.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.standins.waiting import poll_until

ClosedBy = Literal["client", "server", "dropped"]


@dataclass(slots=True)
class PongRecord:
    event_id: int
    #: Round trip from our ping to its pong; None if no ping had that id.
    rtt_ms: float | None
    at: float


@dataclass(slots=True)
class WebhookCallRecord:
    """The HTTP request the stand-in made for a server (webhook) tool, and its outcome."""

    method: str
    url: str
    headers: dict[str, str]
    #: The JSON body sent (None for GET/DELETE).
    body: Any
    status: int | None = None
    response_text: str | None = None
    #: ``timeout``, ``connection error: ...`` or a configuration problem; None when answered.
    error: str | None = None
    latency_s: float | None = None


@dataclass(slots=True)
class ToolCallRecord:
    tool_call_id: str
    tool_name: str
    parameters: Any
    sent_at: float
    result: Any = None
    is_error: bool | None = None
    result_at: float | None = None
    timed_out: bool = False
    #: ``client`` (over the socket) or ``webhook`` (an HTTP call made by the stand-in).
    tool_type: str = "client"
    webhook: WebhookCallRecord | None = None
    #: Script parameters a webhook tool's schema has no property for (not sent).
    dropped_parameters: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AgentTurnRecord:
    """One agent response: its text, audio and how much of it was played."""

    event_id: int
    text: str
    duration_s: float
    audio_bytes_sent: int = 0
    chunks_sent: int = 0
    #: Monotonic time the first audio chunk was sent (None if never).
    first_audio_at: float | None = None
    interrupted: bool = False
    interruption_event_id: int | None = None
    #: Playback position (s) estimated when the caller interrupted.
    played_s: float | None = None
    corrected_text: str | None = None


@dataclass(slots=True)
class TranscriptEntry:
    """One turn of the stored transcript (``GET /v1/convai/conversations/{id}``)."""

    role: Literal["agent", "user"]
    message: str | None
    time_in_call_secs: int
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[dict[str, Any]] = field(default_factory=list)
    #: For agent speech: the response's event id, to tell whether it was interrupted.
    agent_event_id: int | None = None
    source_event_id: int | None = None


@dataclass(slots=True)
class ConversationRecord:
    conversation_id: str
    agent_id: str
    path: str
    query: dict[str, str]
    input_format: str
    output_format: str
    opened_at: float = field(default_factory=time.monotonic)
    init: dict[str, Any] | None = None
    init_at: float | None = None
    language: str | None = None
    script_language: str | None = None
    message_counts: Counter[str] = field(default_factory=Counter)
    #: Every non-audio client message: (monotonic time, type, message).
    messages: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    audio_chunks_received: int = 0
    audio_bytes_received: int = 0
    first_audio_received_at: float | None = None
    #: With ``probe_frames``: (receive time in ns, frame tag or None) per audio chunk.
    frame_probe: list[tuple[int, int | None]] = field(default_factory=list)
    pings_sent: dict[int, float] = field(default_factory=dict)
    pongs: list[PongRecord] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    agent_turns: list[AgentTurnRecord] = field(default_factory=list)
    user_transcripts: list[str] = field(default_factory=list)
    user_turns_detected: int = 0
    interruptions: list[int] = field(default_factory=list)
    contextual_updates: list[str] = field(default_factory=list)
    user_messages: list[str] = field(default_factory=list)
    events_sent: Counter[str] = field(default_factory=Counter)
    errors_sent: list[dict[str, Any]] = field(default_factory=list)
    ended_with_end_call: bool = False
    close_code: int | None = None
    close_reason: str | None = None
    closed_by: ClosedBy | None = None
    closed_at: float | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    # --- what the service stores about the conversation (REST, post-call webhook) ---
    started_unix: float = field(default_factory=time.time)
    transcript: list[TranscriptEntry] = field(default_factory=list)
    #: Dynamic variables in effect (the client's, the placeholders, ``system__*``).
    dynamic_variables: dict[str, Any] = field(default_factory=dict)
    termination_reason: str | None = None
    #: The service refused or crashed the conversation (error event + close).
    failed: bool = False
    #: ``analysis`` as the service reports it, set when the call ends.
    analysis: dict[str, Any] | None = None
    #: False while the service is still "processing" the ended call.
    analysis_ready: bool = False
    #: Copies of the post-call webhook attempted for this conversation.
    webhook_deliveries: int = 0

    @property
    def status(self) -> str:
        """``initiated``, ``in-progress``, ``processing``, ``done`` or ``failed``."""
        if self.closed_at is None:
            return "in-progress" if self.init is not None else "initiated"
        if self.failed or self.init is None:
            return "failed"
        return "done" if self.analysis_ready else "processing"

    @property
    def duration_s(self) -> float:
        end = self.closed_at if self.closed_at is not None else time.monotonic()
        return max(0.0, end - self.opened_at)

    @property
    def tool_results(self) -> list[ToolCallRecord]:
        """Tool calls that got an answer from the client."""
        return [call for call in self.tool_calls if call.result_at is not None]

    def tool_call(self, name: str) -> ToolCallRecord | None:
        """The first call of tool ``name``, if any."""
        return next((call for call in self.tool_calls if call.tool_name == name), None)

    async def wait_closed(self, timeout_s: float = 10.0) -> None:
        """Wait for the socket to be closed, by either side."""
        await asyncio.wait_for(self.closed.wait(), timeout_s)

    async def wait_until(
        self, condition: Callable[[ConversationRecord], bool], timeout_s: float = 10.0
    ) -> None:
        """Wait until ``condition(self)`` holds; TimeoutError after ``timeout_s``."""
        await poll_until(lambda: condition(self), timeout_s)
