"""Helpers that make bridge tests read like the transcript of a call.

The frame builders write what the peers really send: Twilio's JSON text with its
numeric fields as strings (reference ``twilio-resend.md`` §1.2), and ElevenLabs
events with a ``type`` and a payload object (``elevenlabs-convai.md`` §3).

:class:`Call` drives a :class:`~gateway.bridge.CallBridge` the way the pump in
``gateway/call_runner.py`` does: text is parsed at the edge (a protocol error is
counted, as the pump counts it), every input carries an explicit ``now``, and the
three outboxes are drained after every input. What went to each peer is parsed back
and kept, step by step and for the whole call. A small model of Twilio's player
stands behind it: audio plays in real time in the order it was sent, a mark is due
once the audio before it has played, and ``clear`` makes every pending mark due at
once. :meth:`Call.run_for` moves the clock through those due times and the bridge's
own deadlines, with the caller sending a frame every 20 ms, as on a real line.

Audio is *tagged*: a 20 ms frame is 160 copies of one byte, so a test can tell which
frame went where, in which order, without decoding anything.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway import agent_events as ae
from gateway import twilio_events as te
from gateway.bridge import BridgeTimings, CallBridge, CallInfo
from gateway.effects import Effect, Publish
from gateway.playout import Playout
from gateway.protocol_error import ProtocolError
from media.recording import CallRecording

STREAM_SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL_SID = "CA5ee0a6f1c0b3d0e5a4b2d9c8e7f6a5b4"
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
CONVERSATION_ID = "conv_01jz0000000000000000000000"
INFO = CallInfo(call_sid=CALL_SID, org_id="org_1", account_id="acct_42", direction="outbound")
VOICEMAIL_MESSAGE = "Hello, this is a message from your lender. Please call us back."
APOLOGY_MESSAGE = "We are sorry, we have a technical problem. We will call you back."

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
FRAME_S = 0.020

E = TypeVar("E")


# ------------------------------------------------------------------------ audio
def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def tagged(*tags: int) -> bytes:
    """20 ms mu-law frames, each made of one repeated byte (its tag)."""
    return b"".join(bytes([tag]) * FRAME_BYTES for tag in tags)


def tag_of(frame: bytes) -> int:
    """The tag of a tagged frame; fails if the frame is not one tag throughout."""
    assert len(frame) == FRAME_BYTES, len(frame)
    assert frame == bytes([frame[0]]) * FRAME_BYTES, "frame mixes tags"
    return frame[0]


# ---------------------------------------------------------- what Twilio sends
def _dumps(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"))


def twilio_connected() -> str:
    return _dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def twilio_start(
    seq: int = 1,
    *,
    stream_sid: str = STREAM_SID,
    call_sid: str = CALL_SID,
    custom_parameters: dict[str, str] | None = None,
) -> str:
    return _dumps(
        {
            "event": "start",
            "sequenceNumber": str(seq),
            "streamSid": stream_sid,
            "start": {
                "streamSid": stream_sid,
                "accountSid": ACCOUNT_SID,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "customParameters": custom_parameters
                if custom_parameters is not None
                else {"stream_token": "tok_1"},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


def twilio_media(
    payload: str, *, seq: int, chunk: int, timestamp_ms: int, stream_sid: str = STREAM_SID
) -> str:
    return _dumps(
        {
            "event": "media",
            "sequenceNumber": str(seq),
            "streamSid": stream_sid,
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(timestamp_ms),
                "payload": payload,
            },
        }
    )


def twilio_mark(name: str, *, seq: int, stream_sid: str = STREAM_SID) -> str:
    return _dumps(
        {
            "event": "mark",
            "sequenceNumber": str(seq),
            "streamSid": stream_sid,
            "mark": {"name": name},
        }
    )


def twilio_dtmf(digit: str, *, seq: int, stream_sid: str = STREAM_SID) -> str:
    return _dumps(
        {
            "event": "dtmf",
            "sequenceNumber": str(seq),
            "streamSid": stream_sid,
            "dtmf": {"track": "inbound_track", "digit": digit},
        }
    )


def twilio_stop(*, seq: int, stream_sid: str = STREAM_SID) -> str:
    return _dumps(
        {
            "event": "stop",
            "sequenceNumber": str(seq),
            "streamSid": stream_sid,
            "stop": {"accountSid": ACCOUNT_SID, "callSid": CALL_SID},
        }
    )


# ------------------------------------------------------ what the agent sends
def agent_metadata(
    *,
    input_format: str = "ulaw_8000",
    output_format: str = "ulaw_8000",
    conversation_id: str = CONVERSATION_ID,
) -> str:
    return _dumps(
        {
            "type": "conversation_initiation_metadata",
            "conversation_initiation_metadata_event": {
                "conversation_id": conversation_id,
                "agent_output_audio_format": output_format,
                "user_input_audio_format": input_format,
            },
        }
    )


def agent_audio(audio_b64: str, event_id: int) -> str:
    return _dumps(
        {"type": "audio", "audio_event": {"audio_base_64": audio_b64, "event_id": event_id}}
    )


def agent_ping(event_id: int, ping_ms: int | None = None) -> str:
    return _dumps({"type": "ping", "ping_event": {"event_id": event_id, "ping_ms": ping_ms}})


def agent_interruption(event_id: int) -> str:
    return _dumps({"type": "interruption", "interruption_event": {"event_id": event_id}})


def agent_response(text: str, event_id: int) -> str:
    return _dumps(
        {
            "type": "agent_response",
            "agent_response_event": {"agent_response": text, "event_id": event_id},
        }
    )


def agent_response_correction(original: str, corrected: str, event_id: int) -> str:
    return _dumps(
        {
            "type": "agent_response_correction",
            "agent_response_correction_event": {
                "original_agent_response": original,
                "corrected_agent_response": corrected,
                "event_id": event_id,
            },
        }
    )


def user_transcript(text: str, event_id: int, *, tentative: bool = False) -> str:
    if tentative:
        return _dumps(
            {
                "type": "tentative_user_transcript",
                "tentative_user_transcription_event": {
                    "user_transcript": text,
                    "event_id": event_id,
                },
            }
        )
    return _dumps(
        {
            "type": "user_transcript",
            "user_transcription_event": {"user_transcript": text, "event_id": event_id},
        }
    )


def client_tool_call(
    tool_name: str, tool_call_id: str, parameters: dict[str, Any], event_id: int
) -> str:
    return _dumps(
        {
            "type": "client_tool_call",
            "client_tool_call": {
                "tool_name": tool_name,
                "tool_call_id": tool_call_id,
                "parameters": parameters,
                "event_id": event_id,
            },
        }
    )


def agent_tool_response(
    tool_name: str,
    tool_call_id: str = "toolu_1",
    *,
    tool_type: str = "system",
    is_error: bool = False,
    event_id: int = 1,
) -> str:
    return _dumps(
        {
            "type": "agent_tool_response",
            "agent_tool_response": {
                "tool_name": tool_name,
                "tool_call_id": tool_call_id,
                "tool_type": tool_type,
                "is_error": is_error,
                "is_called": True,
                "event_id": event_id,
            },
        }
    )


def vad_score(score: float) -> str:
    return _dumps({"type": "vad_score", "vad_score_event": {"vad_score": score}})


def agent_error(code: str, message: str) -> str:
    return _dumps({"type": "error", "error_event": {"code": code, "message": message}})


# ------------------------------------------------------------ what was sent
@dataclass
class Sent:
    """Frames sent to each peer (parsed back from JSON) and effects, oldest first."""

    twilio: list[dict[str, Any]] = field(default_factory=list)
    agent: list[dict[str, Any]] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)

    def extend(self, other: Sent) -> None:
        self.twilio += other.twilio
        self.agent += other.agent
        self.effects += other.effects

    @property
    def empty(self) -> bool:
        return not (self.twilio or self.agent or self.effects)

    @property
    def twilio_events(self) -> list[str]:
        """The ``event`` of every frame sent to Twilio."""
        return [msg["event"] for msg in self.twilio]

    @property
    def media(self) -> list[bytes]:
        """The decoded payload of every ``media`` frame sent to Twilio."""
        return [
            base64.b64decode(m["media"]["payload"]) for m in self.twilio if m["event"] == "media"
        ]

    @property
    def media_tags(self) -> list[int]:
        return [tag_of(frame) for frame in self.media]

    @property
    def marks(self) -> list[str]:
        """The names of the marks sent to Twilio."""
        return [m["mark"]["name"] for m in self.twilio if m["event"] == "mark"]

    @property
    def agent_types(self) -> list[str]:
        """The ``type`` of every frame sent to the agent (``user_audio_chunk`` has none)."""
        return [m.get("type", "user_audio_chunk") for m in self.agent]

    @property
    def user_audio(self) -> list[str]:
        """The base64 text of every ``user_audio_chunk`` sent to the agent."""
        return [m["user_audio_chunk"] for m in self.agent if "user_audio_chunk" in m]

    def of(self, kind: type[E]) -> list[E]:
        """The effects of one type."""
        return [e for e in self.effects if isinstance(e, kind)]

    def published(self, type_: str) -> list[dict[str, Any]]:
        """The data of every live event of this type."""
        return [e.data for e in self.effects if isinstance(e, Publish) and e.type == type_]


# ------------------------------------------------------------------ the call
@dataclass
class _PendingMark:
    name: str
    due: float


class Call:
    """A bridge on a fake line: explicit clock, real wire formats, a model of Twilio."""

    def __init__(
        self,
        *,
        now: float = 1000.0,
        timings: BridgeTimings | None = None,
        playout: Playout | None = None,
        recording: CallRecording | None = None,
        media_layout: bool = True,
    ) -> None:
        self.now = now
        # As the pump does: a media frame in Twilio's layout skips the full parser.
        self.media_layout = media_layout
        self.bridge = CallBridge(
            INFO,
            voicemail_message=VOICEMAIL_MESSAGE,
            apology_message=APOLOGY_MESSAGE,
            recording=recording,
            playout=playout,
            timings=timings,
        )
        self.sent = Sent()
        self._seq = 0
        self._chunk = 0
        self._play_end = 0.0
        self._marks: list[_PendingMark] = []

    # ------------------------------------------------------------- the clock
    def at(self, now: float) -> None:
        assert now >= self.now, f"the clock went back from {self.now} to {now}"
        self.now = now

    def advance(self, seconds: float) -> None:
        self.at(self.now + seconds)

    # ---------------------------------------------------------------- drains
    def _drain(self) -> Sent:
        bridge = self.bridge
        step = Sent(
            [json.loads(text) for text in bridge.take_twilio()],
            [json.loads(text) for text in bridge.take_agent()],
            bridge.take_effects(),
        )
        for msg in step.twilio:
            self._twilio_plays(msg)
        self.sent.extend(step)
        return step

    def _twilio_plays(self, msg: dict[str, Any]) -> None:
        """Twilio's player: audio in order, marks due after it, clear flushes marks."""
        now = self.now
        if msg["event"] == "media":
            seconds = len(base64.b64decode(msg["media"]["payload"])) / 8000
            self._play_end = max(self._play_end, now) + seconds
        elif msg["event"] == "mark":
            self._marks.append(_PendingMark(msg["mark"]["name"], max(self._play_end, now)))
        elif msg["event"] == "clear":
            self._play_end = now
            for mark in self._marks:
                mark.due = now

    # ----------------------------------------------------------- Twilio side
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def twilio(self, text: str) -> Sent:
        """One frame from Twilio, parsed and fed like the pump does."""
        fields = te.media_fields(text) if self.media_layout else None
        if fields is not None:
            self.bridge.caller_media(*fields, self.now)
            return self._drain()
        try:
            event = te.parse(text)
        except ProtocolError:
            self.bridge.protocol_errors += 1
            return self._drain()
        if isinstance(event, te.Start):
            self.bridge.start(event, self.now)
        else:
            self.bridge.twilio_event(event, self.now)
        return self._drain()

    def connected(self) -> Sent:
        return self.twilio(twilio_connected())

    def start(self, **kwargs: Any) -> Sent:
        return self.twilio(twilio_start(self._next_seq(), **kwargs))

    def caller_frame(self, payload: bytes | None = None, *, stream_sid: str = STREAM_SID) -> Sent:
        """One 20 ms caller frame (silence unless ``payload`` is given)."""
        self._chunk += 1
        data = tagged(0xFF) if payload is None else payload
        return self.twilio(
            twilio_media(
                b64(data),
                seq=self._next_seq(),
                chunk=self._chunk,
                timestamp_ms=(self._chunk - 1) * 20,
                stream_sid=stream_sid,
            )
        )

    def mark(self, name: str, *, stream_sid: str = STREAM_SID) -> Sent:
        """Twilio echoes one mark (by hand; see :meth:`echo_due_marks`)."""
        self._marks = [m for m in self._marks if m.name != name]
        return self.twilio(twilio_mark(name, seq=self._next_seq(), stream_sid=stream_sid))

    def dtmf(self, digit: str) -> Sent:
        return self.twilio(twilio_dtmf(digit, seq=self._next_seq()))

    def stop(self) -> Sent:
        return self.twilio(twilio_stop(seq=self._next_seq()))

    def twilio_closed(self) -> Sent:
        self.bridge.twilio_closed(self.now)
        return self._drain()

    @property
    def pending_marks(self) -> list[str]:
        """Marks Twilio holds and has not echoed yet, in the order they were sent."""
        return [m.name for m in self._marks]

    def echo_due_marks(self) -> Sent:
        """Twilio echoes every mark whose audio has finished playing by now."""
        step = Sent()
        while self._marks and self._marks[0].due <= self.now:
            step.extend(self.mark(self._marks[0].name))
        return step

    def echo_all_marks(self) -> Sent:
        """Twilio echoes every pending mark (what a ``clear`` makes it do)."""
        step = Sent()
        while self._marks:
            step.extend(self.mark(self._marks[0].name))
        return step

    # ------------------------------------------------------------ agent side
    def agent(self, text: str) -> Sent:
        """One frame from the agent, parsed and fed like the agent session does."""
        try:
            event = ae.parse(text)
        except ProtocolError:
            self.bridge.protocol_errors += 1
            return self._drain()
        self.bridge.agent_event(event, self.now)
        return self._drain()

    def agent_ready(
        self, *, input_format: str = "ulaw_8000", output_format: str = "ulaw_8000"
    ) -> Sent:
        return self.agent(agent_metadata(input_format=input_format, output_format=output_format))

    def agent_says(self, *tags: int, event_id: int) -> Sent:
        """One agent audio chunk of tagged 20 ms mu-law frames."""
        return self.agent(agent_audio(b64(tagged(*tags)), event_id))

    def agent_closed(self, code: int | None) -> Sent:
        self.bridge.agent_closed(code, self.now)
        return self._drain()

    # ----------------------------------------------------------------- others
    def tool_finished(
        self, tool_call_id: str, result: str, *, is_error: bool = False, end_call: bool = False
    ) -> Sent:
        self.bridge.tool_finished(
            tool_call_id, result, is_error=is_error, end_call=end_call, now=self.now
        )
        return self._drain()

    def answered_by(self, verdict: str) -> Sent:
        self.bridge.answered_by(verdict, self.now)
        return self._drain()

    def hang_up(self, reason: str) -> Sent:
        """An operator or supervisor ends the call."""
        self.bridge.hang_up(reason, self.now)
        return self._drain()

    @property
    def outstanding_s(self) -> float:
        """Agent audio Twilio holds and has not played yet."""
        return max(0.0, self._play_end - self.now)

    def tick(self) -> Sent:
        """The pump's timer fires at ``now``.

        Checks the timer contract on the way: afterwards the next deadline is in the
        future (or there is none), or the pump would spin.
        """
        self.bridge.tick(self.now)
        step = self._drain()
        deadline = self.bridge.next_deadline()
        assert deadline is None or deadline > self.now, (
            f"next_deadline() {deadline} is not after the tick at {self.now}"
        )
        return step

    def run_for(
        self, seconds: float, *, caller_speaks: bool = True, echo_marks: bool = True
    ) -> Sent:
        """Let the line run: caller frames every 20 ms, mark echoes and timers when due.

        Returns everything sent meanwhile. Stops early once the call has ended.
        """
        end = self.now + seconds
        next_frame = self.now
        step = Sent()
        for _ in range(1_000_000):
            if self.bridge.ended:
                break
            times = [end]
            if caller_speaks:
                times.append(next_frame)
            if echo_marks and self._marks:
                times.append(self._marks[0].due)
            deadline = self.bridge.next_deadline()
            if deadline is not None:
                times.append(deadline)
            at = min(times)
            if at > end:
                break
            self.at(max(at, self.now))
            if echo_marks:
                step.extend(self.echo_due_marks())
            if deadline is not None and deadline <= self.now:
                step.extend(self.tick())
            if caller_speaks and next_frame <= self.now and not self.bridge.ended:
                step.extend(self.caller_frame())
                next_frame += FRAME_S
            if at == end:
                break
        else:  # pragma: no cover - a loop this long means the bridge never settles
            raise AssertionError("the call did not settle")
        return step

    def live(self, *, input_format: str = "ulaw_8000", output_format: str = "ulaw_8000") -> Sent:
        """The usual opening: agent session ready, then Twilio connects and starts."""
        step = self.agent_ready(input_format=input_format, output_format=output_format)
        step.extend(self.connected())
        step.extend(self.start())
        return step
