"""What the Twilio stand-in saw and did on each call, for tests and the benchmark.

Why: the stand-in is the gateway's Twilio-side peer, hence the honest witness of
what the gateway really asked for (TwiML, REST updates), what it was told (status
callbacks, AMD) and what the *caller heard*: the agent audio actually played at real
time, the marks echoed, the audio dropped by ``clear``. All plain data, appended as
things happen; ``wait_until`` helpers poll them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.standins.waiting import poll_until

FRAME_BYTES = 160
FRAME_S = 0.02


@dataclass(slots=True)
class WebhookRecord:
    """One signed request the stand-in made to the gateway."""

    kind: str  # voice | status | amd | action | redirect | stream-status
    method: str
    url: str  # the public URL, as signed
    sent_to: str  # where it was actually sent
    params: dict[str, str]
    signature: str
    at: float = field(default_factory=time.monotonic)
    status: int | None = None
    body: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(slots=True)
class StatusPost:
    status: str
    sequence: int
    at: float
    http_status: int | None = None


@dataclass(slots=True)
class MarkEcho:
    name: str
    received_at: float
    echoed_at: float
    #: True when the echo came from a ``clear`` (audio discarded, not played).
    cleared: bool = False


@dataclass(slots=True)
class CallerLineRecord:
    text: str
    started_at: float
    ended_at: float | None = None
    #: True if the agent's audio was playing when the caller started this line.
    over_agent: bool = False


@dataclass(slots=True)
class StreamRecord:
    """One ``<Connect><Stream>``: the websocket and everything that crossed it."""

    stream_sid: str
    url: str
    connect_url: str
    custom_parameters: dict[str, str]
    handshake_status: int | None = None
    error: str | None = None
    connected_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    #: server-closed | stopped | caller-hangup | rejected | connect-failed
    end_reason: str | None = None
    close_code: int | None = None
    messages_received: Counter[str] = field(default_factory=Counter)
    #: (Twilio warning code, detail): 31950 binary frame, 31951 protocol violation.
    warnings: list[tuple[int, str]] = field(default_factory=list)
    media_bytes_received: int = 0
    first_media_at: float | None = None
    marks_received: list[str] = field(default_factory=list)
    marks_echoed: list[MarkEcho] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    dropped_bytes: int = 0
    #: Agent audio actually played (mu-law), and (start, end) of each contiguous run.
    played: bytearray = field(default_factory=bytearray)
    played_segments: list[tuple[float, float]] = field(default_factory=list)
    frames_sent: int = 0
    #: Monotonic send time of every caller frame (for pacing checks).
    frame_times: list[float] = field(default_factory=list)
    sequence_numbers: list[int] = field(default_factory=list)
    dtmf_sent: list[str] = field(default_factory=list)
    caller_lines: list[CallerLineRecord] = field(default_factory=list)
    stop_sent: bool = False
    #: With ``probe_frames``: (receive ns, frame tag or None, bytes) per agent media.
    frame_probe: list[tuple[int, int | None, int]] = field(default_factory=list)

    @property
    def played_s(self) -> float:
        return len(self.played) / 8000

    @property
    def first_media_after_start_s(self) -> float | None:
        """Delay from our ``start`` to the first agent ``media`` received."""
        if self.first_media_at is None or self.started_at is None:
            return None
        return self.first_media_at - self.started_at


@dataclass(slots=True)
class CallRecord:
    sid: str
    account_sid: str
    direction: str  # outbound-api | inbound
    from_: str
    to: str
    request: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.monotonic)
    date_created: str = ""
    status: str = "queued"
    #: Every status the call went through, posted or not.
    status_history: list[str] = field(default_factory=lambda: ["queued"])
    answered_by: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    start_time: str | None = None
    end_time: str | None = None
    statuses: list[StatusPost] = field(default_factory=list)
    webhooks: list[WebhookRecord] = field(default_factory=list)
    twiml: list[str] = field(default_factory=list)
    streams: list[StreamRecord] = field(default_factory=list)
    says: list[str] = field(default_factory=list)
    transfers: list[str] = field(default_factory=list)
    #: What the person dialled by ``<Dial><Number url>`` heard before being connected.
    whispers: list[str] = field(default_factory=list)
    #: ``DialCallStatus`` of each ``<Dial>``, in order.
    dial_results: list[str] = field(default_factory=list)
    updates: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: caller-hangup | api-hangup | twiml-end | hangup-verb | busy | no-answer | failed
    end_reason: str | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def completed(self) -> bool:
        return self.ended.is_set()

    @property
    def stream(self) -> StreamRecord | None:
        """The latest media stream of the call, if any."""
        return self.streams[-1] if self.streams else None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    def webhooks_of(self, kind: str) -> list[WebhookRecord]:
        return [hook for hook in self.webhooks if hook.kind == kind]

    async def wait_until(
        self, condition: Callable[[CallRecord], bool], timeout_s: float = 10.0
    ) -> None:
        """Wait until ``condition(self)`` holds; TimeoutError after ``timeout_s``."""
        await poll_until(lambda: condition(self), timeout_s)
