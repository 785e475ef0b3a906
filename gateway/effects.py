"""What the call core asks its I/O layer to do, besides sending frames.

The core never performs I/O; after each input the pump drains these and carries
them out in order. They are plain frozen data so tests can assert on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RunTool:
    """Run a client tool and feed its result back with ``CallBridge.tool_finished``."""

    tool_call_id: str
    name: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Publish:
    """A live event for supervisors (the pump adds call and organization ids)."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HangUp:
    """Close the media socket: Twilio then runs the ``<Hangup/>`` after ``<Connect>``."""

    reason: str


@dataclass(frozen=True, slots=True)
class SayAndHangUp:
    """Replace the call's TwiML with ``<Say>text</Say><Hangup/>`` through the REST API."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class WarmTransfer:
    """Replace the call's TwiML with a ``<Dial>`` to ``number``; the person hears
    ``brief`` before the caller is connected (Twilio's ``<Number url>`` whisper)."""

    number: str
    brief: str
    reason: str = "transferred"


@dataclass(frozen=True, slots=True)
class CloseAgent:
    reason: str


@dataclass(frozen=True, slots=True)
class ReconnectAgent:
    """Open a new agent session and give it the conversation so far as context."""

    context: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The call is over; emitted exactly once. Persist the outcome and clean up."""

    reason: str
    outcome: str


Effect = (
    RunTool
    | Publish
    | HangUp
    | SayAndHangUp
    | WarmTransfer
    | CloseAgent
    | ReconnectAgent
    | Finished
)
