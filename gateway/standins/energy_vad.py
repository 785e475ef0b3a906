"""A deliberately simple energy voice-activity detector, timed by audio, not the clock.

Why: the ElevenLabs stand-in cannot understand speech, but it must notice *that* the
caller speaks and when they stop, because that is what drives turn-taking and
barge-in on the real service. RMS energy over 20 ms windows is enough for synthetic
speech over a clean line: speech starts after ``start_ms`` of consecutive loud
windows and ends after ``end_ms`` of consecutive quiet ones (long enough to bridge
the pauses between words).

Timing is counted in samples fed, so the detector gives the same answer whether the
audio arrives in real time, in bursts or all at once. Events carry the audio time
(ms since the first sample fed) at which they were decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech was confirmed at ``at_ms``; it began ``start_ms`` earlier."""

    at_ms: int


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    """Silence was confirmed at ``at_ms``; the talk spurt lasted ``speech_ms``."""

    at_ms: int
    speech_ms: int


VadEvent = SpeechStarted | SpeechEnded


@dataclass(slots=True)
class EnergyVad:
    """Feed int16 PCM with :meth:`feed`; get start/end events back."""

    sample_rate: int
    threshold_rms: float = 300.0
    start_ms: int = 60
    end_ms: int = 500
    window_ms: int = 20
    speaking: bool = False
    last_rms: float = 0.0
    _pending: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    _windows: int = 0
    _loud_run: int = 0
    _quiet_run: int = 0
    _speech_started_window: int = 0

    @property
    def audio_ms(self) -> int:
        """Audio time consumed so far, in whole windows."""
        return self._windows * self.window_ms

    def feed(self, pcm: np.ndarray) -> list[VadEvent]:
        """Consume samples; return the events decided inside them, in order."""
        size = self.sample_rate * self.window_ms // 1000
        buf = np.concatenate((self._pending, pcm)) if self._pending.size else pcm
        whole = buf.size // size
        self._pending = np.array(buf[whole * size :], dtype=np.int16)
        if not whole:
            return []
        windows = buf[: whole * size].astype(np.float64).reshape(whole, size)
        rms = np.sqrt(np.mean(windows * windows, axis=1))
        events: list[VadEvent] = []
        for value in rms:
            event = self._step(float(value))
            if event is not None:
                events.append(event)
        return events

    def _step(self, rms: float) -> VadEvent | None:
        self._windows += 1
        self.last_rms = rms
        if rms >= self.threshold_rms:
            self._loud_run += 1
            self._quiet_run = 0
        else:
            self._quiet_run += 1
            self._loud_run = 0
        if not self.speaking and self._loud_run * self.window_ms >= self.start_ms:
            self.speaking = True
            self._speech_started_window = self._windows - self._loud_run
            return SpeechStarted(at_ms=self.audio_ms)
        if self.speaking and self._quiet_run * self.window_ms >= self.end_ms:
            self.speaking = False
            spoken = self._windows - self._quiet_run - self._speech_started_window
            return SpeechEnded(at_ms=self.audio_ms, speech_ms=spoken * self.window_ms)
        return None

    def force_end(self) -> SpeechEnded | None:
        """End a talk spurt whose trailing silence never arrived (the sender went quiet)."""
        if not self.speaking:
            return None
        self.speaking = False
        self._loud_run = self._quiet_run = 0
        spoken = self._windows - self._speech_started_window
        return SpeechEnded(at_ms=self.audio_ms, speech_ms=spoken * self.window_ms)
