"""Text to speech for the stand-ins: espeak-ng, resampled, cached.

Why: the stand-ins must put *speech* on the line, not tones or noise, because the
things under test (voice activity detection, barge-in, what the caller really heard)
only behave realistically with speech-like audio: syllables, pauses between words,
silence at the end. espeak-ng is small, offline and deterministic, so the same text
always gives the same samples and tests stay reproducible.

Synthesis costs tens of milliseconds per line, and the demo and the benchmark say the
same lines thousands of times, so results are kept in an LRU cache. Cached arrays are
read-only: callers share them.

When espeak-ng is not installed, a shipped recording (``data/fallback_speech.wav``,
"Hello, this is a test call.") is looped or cut to a length proportional to the text,
so durations stay plausible and everything keeps working, just with the same words.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import wave
from functools import lru_cache
from importlib import resources

import numpy as np
import soxr

ESPEAK = "espeak-ng"
FALLBACK_WAV = "fallback_speech.wav"
#: Rough speaking rate of espeak-ng's default voice, used to size the fallback audio.
FALLBACK_SECONDS_PER_CHAR = 0.065

#: espeak-ng voice names for the language codes the scripts use.
VOICES = {"en": "en-us", "es": "es", "pt": "pt-br"}


class SpeechError(RuntimeError):
    """espeak-ng ran but did not produce usable audio."""


def synthesize(text: str, *, voice: str = "en", sample_rate: int = 8000) -> np.ndarray:
    """Speak ``text`` and return int16 mono samples at ``sample_rate``.

    ``voice`` is a language code (``en``, ``es``, ``es-MX``...) or any espeak-ng voice
    name. The result is cached and read-only; copy it before changing it.
    """
    return _synthesize_cached(text, voice, sample_rate)


async def synthesize_async(text: str, *, voice: str = "en", sample_rate: int = 8000) -> np.ndarray:
    """:func:`synthesize` in a worker thread, so a cache miss does not stall other calls."""
    return await asyncio.to_thread(_synthesize_cached, text, voice, sample_rate)


def espeak_available() -> bool:
    """True when espeak-ng is on ``PATH`` (otherwise the fallback recording is used)."""
    return shutil.which(ESPEAK) is not None


@lru_cache(maxsize=512)
def _synthesize_cached(text: str, voice: str, sample_rate: int) -> np.ndarray:
    if sample_rate <= 0:
        raise ValueError(f"sample_rate: must be positive, got {sample_rate}")
    exe = shutil.which(ESPEAK)
    if exe is None:
        pcm, rate = _fallback(text)
    else:
        pcm, rate = _espeak(exe, text, _voice_name(voice))
    out = _resample(pcm, rate, sample_rate)
    out.flags.writeable = False
    return out


def _voice_name(voice: str) -> str:
    key = voice.lower()
    return VOICES.get(key, VOICES.get(key.split("-")[0], voice))


def _espeak(exe: str, text: str, voice: str) -> tuple[np.ndarray, int]:
    # Text goes through stdin so a line starting with "-" is never read as an option.
    proc = subprocess.run(  # noqa: S603 - fixed executable, no shell, text on stdin
        [exe, "--stdout", "--stdin", "-v", voice],
        input=text.encode("utf-8"),
        capture_output=True,
        check=False,
        timeout=30,
    )
    if proc.returncode != 0:
        raise SpeechError(f"espeak-ng exited {proc.returncode}: {proc.stderr.decode()[:200]}")
    return parse_streamed_wav(proc.stdout)


def parse_streamed_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Read a 16-bit mono WAV whose size fields may be bogus.

    espeak-ng writes its header before it knows the length when its output is a pipe
    (sizes are ``0x7ffff000``), which :mod:`wave` then believes; so the chunks are
    walked by hand and ``data`` runs to the end of the buffer.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SpeechError("not a RIFF/WAVE stream")
    pos = 12
    rate = 0
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = pos + 8
        if cid == b"fmt ":
            channels = int.from_bytes(data[body + 2 : body + 4], "little")
            rate = int.from_bytes(data[body + 4 : body + 8], "little")
            bits = int.from_bytes(data[body + 14 : body + 16], "little")
            if channels != 1 or bits != 16:
                raise SpeechError(f"expected 16-bit mono, got {bits}-bit x{channels}")
        elif cid == b"data":
            end = min(len(data), body + size)
            raw = data[body:end]
            raw = raw[: len(raw) // 2 * 2]
            if not rate:
                raise SpeechError("data chunk before fmt chunk")
            return np.frombuffer(raw, dtype="<i2").astype(np.int16), rate
        pos = body + size + (size & 1)
    raise SpeechError("no data chunk")


@lru_cache(maxsize=1)
def _fallback_recording() -> tuple[np.ndarray, int]:
    blob = resources.files("gateway.standins.data").joinpath(FALLBACK_WAV).read_bytes()
    with wave.open(io.BytesIO(blob)) as wav:
        rate = wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.int16), rate


def _fallback(text: str) -> tuple[np.ndarray, int]:
    pcm, rate = _fallback_recording()
    wanted = max(int(rate * 0.3), int(len(text) * FALLBACK_SECONDS_PER_CHAR * rate))
    reps = -(-wanted // len(pcm))
    return np.tile(pcm, reps)[:wanted], rate


def _resample(pcm: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out:
        return np.ascontiguousarray(pcm, dtype=np.int16)
    out = soxr.resample(pcm.astype(np.int16), rate_in, rate_out)
    return np.asarray(out, dtype=np.int16)
