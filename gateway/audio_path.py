"""Audio formats between Twilio (mu-law 8 kHz) and the agent (whatever it negotiated).

The agent announces its formats in ``conversation_initiation_metadata``; formats
cannot be overridden per conversation (reference ``elevenlabs-convai.md`` §2.1).
With ``ulaw_8000`` both ways, caller audio passes through as the very base64 text
Twilio sent and agent audio is only re-cut into 20 ms frames. Any ``pcm_<rate>``
format is transcoded on whole frames with the ``media`` package.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

from media import mulaw
from media.reframe import Reframer
from media.resample import Resampler

TWILIO_RATE = 8000
ULAW = "ulaw_8000"
FRAME_BYTES = 160  # 20 ms of mu-law at 8 kHz


class UnsupportedFormat(ValueError):
    """The agent negotiated an audio format the bridge cannot carry."""


def pcm_rate(fmt: str) -> int:
    """Sample rate of a ``pcm_<rate>`` format name.

    Raises:
        UnsupportedFormat: for anything but ``ulaw_8000`` and ``pcm_<rate>``.
    """
    prefix, _, rate = fmt.partition("_")
    valid = prefix == "pcm" and rate.isascii() and rate.isdigit()
    if not valid or not 8000 <= int(rate) <= 48000:
        raise UnsupportedFormat(f"unsupported agent audio format {fmt!r}")
    return int(rate)


class CallerToAgent:
    """Caller frames (base64 mu-law) into the agent's input format (base64)."""

    def __init__(self, fmt: str) -> None:
        self.passthrough = fmt == ULAW
        self._resampler: Resampler | None = None
        if not self.passthrough:
            rate = pcm_rate(fmt)
            if rate != TWILIO_RATE:
                self._resampler = Resampler(TWILIO_RATE, rate)

    def convert(self, payload_b64: str) -> str:
        if self.passthrough:
            return payload_b64
        pcm = mulaw.decode(base64.b64decode(payload_b64))
        if self._resampler is not None:
            pcm = self._resampler.process(pcm)
        return base64.b64encode(pcm.astype("<i2").tobytes()).decode("ascii")


class AgentToCaller:
    """Agent chunks of any size into base64 20 ms mu-law frames for Twilio."""

    def __init__(self, fmt: str) -> None:
        self.passthrough = fmt == ULAW
        self._resampler: Resampler | None = None
        self._odd_byte = b""
        if not self.passthrough:
            rate = pcm_rate(fmt)
            if rate != TWILIO_RATE:
                self._resampler = Resampler(rate, TWILIO_RATE)
        self._reframer = Reframer(FRAME_BYTES)

    def frames(self, audio_b64: str) -> tuple[list[str], bytes]:
        """Cut one agent chunk into frames; a partial frame waits for the next chunk.

        Returns:
            The base64 frames, and the same audio as mu-law bytes (for the recording).

        Raises:
            ValueError: the chunk is not valid base64.
        """
        try:
            # The C decoder checks what b64decode(validate=True) checks with a regex.
            raw = binascii.a2b_base64(audio_b64, strict_mode=True)
        except ValueError as exc:  # binascii.Error, or a non-ASCII str
            raise ValueError("audio is not valid base64") from exc
        if not self.passthrough:
            raw = self._odd_byte + raw
            even = len(raw) & ~1
            self._odd_byte = raw[even:]
            pcm = np.frombuffer(raw[:even], dtype="<i2")
            if self._resampler is not None:
                pcm = self._resampler.process(pcm)
            raw = mulaw.encode(pcm)
        encode = binascii.b2a_base64
        return [encode(f, newline=False).decode("ascii") for f in self._reframer.push(raw)], raw

    @property
    def tail_pending(self) -> bool:
        """Whether audio of the current response is held back (a partial frame, or
        samples inside the resampler) and needs :meth:`flush` once the response ends."""
        return not self.passthrough or self._reframer.pending_bytes > 0

    def flush(self) -> list[str]:
        """End of a response: the resampler's tail, then the last partial frame padded."""
        encode = base64.b64encode
        frames: list[str] = []
        if self._resampler is not None:
            held = mulaw.encode(self._resampler.flush())
            frames = [encode(f).decode("ascii") for f in self._reframer.push(held)]
        self._odd_byte = b""
        tail = self._reframer.flush()
        if tail is not None:
            frames.append(encode(tail).decode("ascii"))
        return frames

    def clear(self) -> None:
        """Forget what is held of an interrupted response (partial frame, resampler)."""
        self._reframer.clear()
        if self._resampler is not None:
            self._resampler.clear()
        self._odd_byte = b""
