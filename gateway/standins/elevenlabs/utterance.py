"""One agent response on its way out: its chunks and the estimate of what was played.

Why: the real service streams a response's audio in uneven chunks, faster than real
time, and decides on barge-in from its own guess of the client's playback position:
the time since the first chunk went out, capped at the audio sent so far. It then
cuts the response text to that position in ``agent_response_correction``. This module
holds that arithmetic, free of I/O, so the session only pumps.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from gateway.standins import agent_audio


def split_chunks(
    data: bytes, fmt: str, chunk_ms: tuple[int, int], rng: random.Random
) -> list[tuple[bytes, float]]:
    """Cut encoded audio into chunks of random length in ``chunk_ms``, with durations.

    Cuts fall on sample boundaries; the last chunk holds what is left.
    """
    per_second = agent_audio.bytes_per_second(fmt)
    sample = 1 if fmt == "ulaw_8000" else 2
    low, high = sorted(chunk_ms)
    chunks: list[tuple[bytes, float]] = []
    pos = 0
    while pos < len(data):
        ms = rng.randint(max(low, 10), max(high, 10))
        size = max(sample, per_second * ms // 1000 // sample * sample)
        piece = data[pos : pos + size]
        chunks.append((piece, len(piece) / per_second))
        pos += size
    return chunks


def cut_text(text: str, fraction: float) -> str:
    """The words of ``text`` that fit in ``fraction`` (0..1) of it, by word count."""
    words = text.split()
    keep = max(0, min(len(words), int(len(words) * fraction)))
    return " ".join(words[:keep])


@dataclass(slots=True)
class Utterance:
    event_id: int
    text: str
    duration_s: float
    #: Monotonic time the first chunk was sent; None while the agent is "thinking".
    started_at: float | None = None
    sent_s: float = 0.0
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)

    def position(self, now: float) -> float:
        """Estimated seconds of this response the client has played by ``now``."""
        if self.started_at is None:
            return 0.0
        return max(0.0, min(now - self.started_at, self.sent_s))

    def is_playing(self, now: float) -> bool:
        """True while the client is (by our estimate) still playing this response."""
        return self.started_at is not None and now < self.started_at + self.sent_s

    def ahead_s(self, now: float) -> float:
        """Audio sent but not yet played, by our estimate."""
        return self.sent_s - self.position(now)
