"""Agent audio on its way to the caller: a small lead at Twilio, marks and ``clear``.

Theory of operation. The agent sends speech faster than real time. Twilio queues
whatever we send and plays it in order, and ``clear`` throws its queue away. If we
forwarded everything at once, a barge-in would depend entirely on ``clear`` and our
idea of what the caller heard would be seconds off. So frames wait here and are
released to keep only a short lead (``lead_high``) queued at Twilio, topped up when
it falls under ``lead_low``. Releases are driven by the caller's inbound frames (one
every 20 ms while the call is up) and by :meth:`next_deadline` as a fallback.

After each released batch a mark named ``<generation>:<seq>`` is sent. Twilio echoes
a mark once the audio before it has played, and echoes every pending mark at once on
``clear``; bumping the generation on each clear tells the two apart (reference
``twilio-resend.md`` §1.4). Only echoes of the current generation count as heard.

No clock is read here: every method that needs the time takes ``now`` (seconds,
monotonic) from the caller.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from gateway import twilio_events

FRAME_S = 0.020
# Lead times are sums of FRAME_S, which binary floats cannot hold exactly; comparing
# without slack lets a batch grow by one frame over ``lead_high`` now and then.
_SLACK_S = 1e-6


@dataclass(slots=True)
class _Mark:
    generation: int
    played_s: float
    response_id: int


@dataclass(frozen=True, slots=True)
class MarkEcho:
    """What an echoed mark means: heard (current generation) or discarded by a clear."""

    heard: bool
    response_id: int
    played_s: float


class Playout:
    """Paces 20 ms agent frames toward Twilio and tracks what was really played."""

    def __init__(self, *, lead_low_s: float = 0.10, lead_high_s: float = 0.24) -> None:
        if lead_low_s <= 0 or lead_low_s + FRAME_S > lead_high_s + _SLACK_S:
            raise ValueError("need 0 < lead_low_s and lead_low_s + 20 ms <= lead_high_s")
        self._lead_low = lead_low_s
        self._lead_high = lead_high_s
        self._queue: deque[tuple[str, int]] = deque()
        self._generation = 0
        self._mark_seq = 0
        self._marks: dict[str, _Mark] = {}
        self._buffer_end = 0.0
        self.sent_s = 0.0
        self.heard_s = 0.0
        self.frames_sent = 0
        self.frames_dropped = 0
        self.last_heard_response = 0
        self._current_response = -1
        self._current_response_start_s = 0.0

    @property
    def queued_frames(self) -> int:
        return len(self._queue)

    @property
    def generation(self) -> int:
        return self._generation

    def enqueue(self, frames: list[str], response_id: int) -> None:
        """Queue base64 20 ms frames of one agent response."""
        for frame in frames:
            self._queue.append((frame, response_id))

    def release(self, now: float, stream_sid: str, out: list[str]) -> int:
        """Move frames to ``out`` until Twilio holds up to ``lead_high`` of audio.

        Returns the number of frames released. Nothing moves while the lead is still
        above ``lead_low``, so a release happens in batches with one mark each.
        """
        queue = self._queue
        if not queue or self._buffer_end - now > self._lead_low + _SLACK_S:
            return 0
        buffer_end = max(self._buffer_end, now)
        limit = now + self._lead_high + _SLACK_S
        released = 0
        response_id = 0
        while queue and buffer_end + FRAME_S <= limit:
            frame, response_id = queue.popleft()
            if response_id != self._current_response:
                self._current_response = response_id
                self._current_response_start_s = self.sent_s + released * FRAME_S
            out.append(twilio_events.media_message(stream_sid, frame))
            buffer_end += FRAME_S
            released += 1
        self._buffer_end = buffer_end
        self.frames_sent += released
        self.sent_s += released * FRAME_S
        self._mark_seq += 1
        name = f"{self._generation}:{self._mark_seq}"
        self._marks[name] = _Mark(self._generation, self.sent_s, response_id)
        out.append(twilio_events.mark_message(stream_sid, name))
        return released

    def interrupt(self, up_to_response: int, now: float) -> bool:
        """Barge-in: drop queued frames of responses ``<= up_to_response``.

        Returns True when Twilio may still hold unplayed audio, i.e. a ``clear`` is
        needed. The generation moves on, so marks echoed by that clear read as
        discarded rather than heard.
        """
        kept: deque[tuple[str, int]] = deque(f for f in self._queue if f[1] > up_to_response)
        self.frames_dropped += len(self._queue) - len(kept)
        self._queue = kept
        pending = bool(self._marks) or self._buffer_end > now
        self._generation += 1
        self._buffer_end = now
        self.sent_s = self.heard_s if pending else self.sent_s
        return pending

    def heard_of_current_response(self) -> float:
        """Seconds of the most recently released response confirmed played by marks."""
        return max(0.0, self.heard_s - self._current_response_start_s)

    def renumber(self, response_id: int) -> None:
        """Give every queued frame ``response_id``.

        A new agent conversation numbers its events from the start again; its first
        interruption must still drop what the previous one left queued.
        """
        self._queue = deque((frame, response_id) for frame, _ in self._queue)

    def on_mark(self, name: str) -> MarkEcho | None:
        """Account for an echoed mark; None for a name we never sent."""
        mark = self._marks.pop(name, None)
        if mark is None:
            return None
        heard = mark.generation == self._generation
        if heard:
            self.heard_s = max(self.heard_s, mark.played_s)
            self.last_heard_response = mark.response_id
        return MarkEcho(heard, mark.response_id, mark.played_s)

    def drained(self, now: float) -> bool:
        """True when nothing is queued here and Twilio has played what it was sent.

        Marks are the evidence; the clock (with one extra second of slack) covers a
        peer that never echoes them.
        """
        if self._queue:
            return False
        return not self._marks or now >= self._buffer_end + 1.0

    def next_deadline(self) -> float | None:
        """When the lead will fall to ``lead_low`` and a release is due."""
        if not self._queue:
            return None
        return self._buffer_end - self._lead_low

    def next_drain_check(self) -> float | None:
        """When :meth:`drained` may next change by the clock alone."""
        if self._queue or not self._marks:
            return None
        return self._buffer_end + 1.0
