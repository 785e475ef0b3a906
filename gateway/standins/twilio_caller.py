"""The person on the phone: what they say, when they say it, when they hang up.

Why a scripted caller: a conversation needs someone to answer the agent, on cue,
with speech the agent side can detect. The caller here behaves like a polite human
with a few knobs for the awkward cases:

- a line is spoken once the agent has said something and then been quiet for
  ``reply_after_silence_ms`` (its audio stopped *playing*, not stopped arriving);
- ``speak_first`` makes the first line go out without waiting for the agent (an
  inbound caller saying "Hello?", or an agent that waits for the caller);
- ``CallerLine.barge_in_after_ms`` speaks that line over the agent, that long after
  the agent's audio started playing (barge-in);
- ``CallerLine.dtmf`` presses keys before the line (keys are sent ~100 ms apart);
- ``hangup_after_s`` hangs up that long after the stream started, and
  ``hangup_when_done`` hangs up after the last line once the agent has replied and
  gone quiet for ``done_linger_s`` (or ``done_timeout_s`` after the last line if it
  never replies). Otherwise the caller waits for the other side to end the call.

Sans-I/O: :class:`CallerVoice` is ticked every 20 ms by the media client with
"did agent audio play in this tick" and answers with the frame to send, keys
pressed and whether to hang up. Speech is synthesized ahead with :meth:`prepare`, so
a tick never waits on espeak.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.standins.speech import synthesize_async
from gateway.standins.twilio_records import FRAME_BYTES, CallerLineRecord
from media import mulaw

SILENCE_FRAME = bytes([mulaw.SILENCE_BYTE]) * FRAME_BYTES
DTMF_SPACING_S = 0.1
#: Agent audio gaps shorter than this do not end the agent's "talk spurt".
SPURT_GAP_S = 0.1


@dataclass(frozen=True, slots=True)
class CallerLine:
    text: str = ""
    barge_in_after_ms: int | None = None
    dtmf: str = ""


@dataclass(frozen=True, slots=True)
class CallerScript:
    lines: tuple[CallerLine, ...] = ()
    voice: str = "en"
    speak_first: bool = False
    reply_after_silence_ms: int = 700
    hangup_after_s: float | None = None
    hangup_when_done: bool = False
    done_linger_s: float = 1.0
    done_timeout_s: float = 15.0

    @classmethod
    def of(cls, lines: Sequence[str | CallerLine], **options: object) -> CallerScript:
        """Build from plain strings and/or :class:`CallerLine` (keyword options as above)."""
        parsed = tuple(CallerLine(line) if isinstance(line, str) else line for line in lines)
        return cls(parsed, **options)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Tick:
    frame: bytes
    dtmf: tuple[str, ...] = ()
    hangup: bool = False


@dataclass(slots=True)
class CallerVoice:
    """Decides, 20 ms at a time, what the caller sends."""

    script: CallerScript
    started_at: float
    lines_log: list[CallerLineRecord] = field(default_factory=list)
    _audio: list[bytes] = field(default_factory=list)
    _index: int = 0
    _speech: bytes = b""
    _speech_pos: int = 0
    _current: CallerLineRecord | None = None
    _keys: deque[str] = field(default_factory=deque)
    _next_key_at: float = 0.0
    _speech_after_keys: bool = False
    _last_agent_at: float | None = None
    _spurt_start: float | None = None
    _heard_since_line: bool = False
    _last_line_end: float | None = None

    async def prepare(self) -> None:
        """Synthesize every line now, so ticks never wait on the synthesizer."""
        self._audio = []
        for line in self.script.lines:
            if line.text:
                pcm = await synthesize_async(line.text, voice=self.script.voice, sample_rate=8000)
                self._audio.append(mulaw.encode(pcm))
            else:
                self._audio.append(b"")

    @property
    def done(self) -> bool:
        """Every line has been said."""
        return self._index >= len(self.script.lines) and self._current is None

    def tick(self, now: float, agent_playing: bool) -> Tick:
        self._hear(now, agent_playing)
        script = self.script
        if script.hangup_after_s is not None and now - self.started_at >= script.hangup_after_s:
            return Tick(SILENCE_FRAME, hangup=True)
        keys: tuple[str, ...] = ()
        if self._keys:
            if now >= self._next_key_at:
                keys = (self._keys.popleft(),)
                self._next_key_at = now + DTMF_SPACING_S
        elif self._speech_after_keys:
            self._speech_after_keys = False
            self._speech_pos = 0
        elif (
            self._current is None
            and self._index < len(script.lines)
            and self._should_start(script.lines[self._index], now, agent_playing)
        ):
            self._start_line(now, agent_playing)
            if self._keys:
                keys = (self._keys.popleft(),)
                self._next_key_at = now + DTMF_SPACING_S
        frame = self._next_frame(now)
        return Tick(frame, keys, self._done_hangup(now))

    def _hear(self, now: float, agent_playing: bool) -> None:
        if agent_playing:
            gap = now - self._last_agent_at if self._last_agent_at is not None else None
            if self._spurt_start is None or (gap is not None and gap > SPURT_GAP_S):
                self._spurt_start = now
            self._last_agent_at = now
            self._heard_since_line = True

    def _should_start(self, line: CallerLine, now: float, agent_playing: bool) -> bool:
        if line.barge_in_after_ms is not None:
            return (
                agent_playing
                and self._spurt_start is not None
                and now - self._spurt_start >= line.barge_in_after_ms / 1000
            )
        if self._index == 0 and self.script.speak_first:
            return True
        if not self._heard_since_line or self._last_agent_at is None:
            return False
        return now - self._last_agent_at >= self.script.reply_after_silence_ms / 1000

    def _start_line(self, now: float, agent_playing: bool) -> None:
        line = self.script.lines[self._index]
        self._current = CallerLineRecord(line.text, now, over_agent=agent_playing)
        self.lines_log.append(self._current)
        self._speech = self._audio[self._index] if self._index < len(self._audio) else b""
        self._speech_pos = len(self._speech) if line.dtmf else 0
        self._keys.extend(line.dtmf)
        self._speech_after_keys = bool(line.dtmf)
        self._heard_since_line = False
        self._index += 1

    def _next_frame(self, now: float) -> bytes:
        if self._current is None:
            return SILENCE_FRAME
        if self._keys or self._speech_after_keys:
            return SILENCE_FRAME
        pos = self._speech_pos
        if pos >= len(self._speech):
            self._current.ended_at = now
            self._current = None
            self._last_line_end = now
            return SILENCE_FRAME
        frame = self._speech[pos : pos + FRAME_BYTES]
        self._speech_pos = pos + FRAME_BYTES
        if len(frame) < FRAME_BYTES:
            frame += SILENCE_FRAME[len(frame) :]
        return frame

    def _done_hangup(self, now: float) -> bool:
        script = self.script
        if not script.hangup_when_done or not self.done or self._last_line_end is None:
            return False
        if now - self._last_line_end >= script.done_timeout_s:
            return True
        if not self._heard_since_line or self._last_agent_at is None:
            return False
        return now - self._last_agent_at >= script.done_linger_s
