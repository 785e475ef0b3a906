"""ElevenLabs ConvAI audio formats: names, rates and conversion to/from int16 PCM.

Why: the agent's ``user_input_audio_format`` and ``agent_output_audio_format``
(reference §5.1) decide what the bytes inside ``user_audio_chunk`` and
``audio_event.audio_base_64`` are. The stand-in must produce and read them exactly,
so a gateway that mixes them up hears noise, as it would on the real service.
PCM formats are 16-bit little-endian mono at the named rate; ``ulaw_8000`` is G.711.
"""

from __future__ import annotations

import numpy as np

from media import mulaw

#: Every format the agent accepts for input and output, with its sample rate.
SAMPLE_RATES: dict[str, int] = {
    "ulaw_8000": 8000,
    "pcm_8000": 8000,
    "pcm_16000": 16000,
    "pcm_22050": 22050,
    "pcm_24000": 24000,
    "pcm_44100": 44100,
    "pcm_48000": 48000,
}


def check_format(fmt: str) -> str:
    """Return ``fmt`` if the service knows it, else raise ValueError naming it."""
    if fmt not in SAMPLE_RATES:
        raise ValueError(f"audio format: unknown {fmt!r}; expected one of {sorted(SAMPLE_RATES)}")
    return fmt


def sample_rate(fmt: str) -> int:
    """Samples per second of ``fmt``."""
    return SAMPLE_RATES[check_format(fmt)]


def bytes_per_second(fmt: str) -> int:
    """Bytes of audio per second of ``fmt`` (1 byte per sample for mu-law, else 2)."""
    rate = sample_rate(fmt)
    return rate if fmt == "ulaw_8000" else 2 * rate


def encode(pcm: np.ndarray, fmt: str) -> bytes:
    """int16 samples (already at ``fmt``'s rate) to the wire bytes of ``fmt``."""
    samples = np.ascontiguousarray(pcm, dtype=np.int16)
    if check_format(fmt) == "ulaw_8000":
        return mulaw.encode(samples)
    return samples.astype("<i2").tobytes()


def decode(data: bytes, fmt: str) -> np.ndarray:
    """Wire bytes of ``fmt`` to int16 samples at ``fmt``'s rate (odd trailing byte dropped)."""
    if check_format(fmt) == "ulaw_8000":
        return mulaw.decode(data)
    usable = len(data) // 2 * 2
    return np.frombuffer(data[:usable], dtype="<i2").astype(np.int16)
