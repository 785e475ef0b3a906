"""gateway.audio_path: pass-through for ulaw_8000, transcoding for pcm_<rate>.

Twilio carries 8 kHz mu-law in 20 ms frames (160 bytes). The agent's formats come
from its metadata (reference elevenlabs-convai.md §5).
"""

import base64
import math

import numpy as np
import numpy.typing as npt
import pytest

from gateway.audio_path import (
    FRAME_BYTES,
    AgentToCaller,
    CallerToAgent,
    UnsupportedFormat,
    pcm_rate,
)
from media import mulaw
from tests.gateway.bridge_helpers import b64, tagged


def tone(freq: float, ms: int, rate: int, amplitude: float = 8000.0) -> npt.NDArray[np.int16]:
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * math.pi * freq * t)).astype(np.int16)


def pcm_b64(pcm: npt.NDArray[np.int16]) -> str:
    return b64(pcm.astype("<i2").tobytes())


def dominant_hz(pcm: npt.NDArray[np.int16], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * rate / len(pcm))


def decode_frames(frames: list[str]) -> bytes:
    decoded = [base64.b64decode(f) for f in frames]
    assert all(len(f) == FRAME_BYTES for f in decoded)
    return b"".join(decoded)


# ------------------------------------------------------------ formats
@pytest.mark.parametrize(
    ("fmt", "rate"),
    [("pcm_8000", 8000), ("pcm_16000", 16000), ("pcm_22050", 22050), ("pcm_48000", 48000)],
)
def test_pcm_rate(fmt: str, rate: int) -> None:
    assert pcm_rate(fmt) == rate


@pytest.mark.parametrize(
    "fmt",
    [
        "ulaw_8000",
        "mp3_44100",
        "pcm",
        "pcm_",
        "pcm_abc",
        "pcm_4000",
        "pcm_96000",
        "pcm_²",
        "PCM_16000",
    ],
)
def test_unsupported_formats(fmt: str) -> None:
    with pytest.raises(UnsupportedFormat, match="unsupported agent audio format"):
        pcm_rate(fmt)


@pytest.mark.parametrize("fmt", ["mp3_44100", "ulaw_16000", "opus_48000", "pcm_²", ""])
def test_both_directions_refuse_what_they_cannot_carry(fmt: str) -> None:
    with pytest.raises(UnsupportedFormat):
        CallerToAgent(fmt)
    with pytest.raises(UnsupportedFormat):
        AgentToCaller(fmt)


# ------------------------------------------------------------ pass-through
def test_caller_audio_passes_through_as_the_same_text() -> None:
    path = CallerToAgent("ulaw_8000")
    payload = b64(tagged(0x42))
    assert path.passthrough
    assert path.convert(payload) is payload


def test_agent_ulaw_is_only_recut_into_20ms_frames() -> None:
    path = AgentToCaller("ulaw_8000")
    audio = bytes(range(256)) * 3  # 768 bytes: 4 frames and 128 bytes over
    frames, raw = path.frames(b64(audio))
    assert raw == audio
    assert decode_frames(frames) == audio[:640]
    more, _ = path.frames(b64(audio[:32]))  # completes the carried 128 bytes
    assert decode_frames(more) == audio[640:] + audio[:32]
    assert path.flush() == []


def test_flush_pads_the_last_partial_frame_with_silence() -> None:
    path = AgentToCaller("ulaw_8000")
    path.frames(b64(b"\x10" * 100))
    (last,) = path.flush()
    assert base64.b64decode(last) == b"\x10" * 100 + b"\xff" * 60
    assert path.flush() == []


def test_clear_forgets_the_partial_frame() -> None:
    path = AgentToCaller("ulaw_8000")
    path.frames(b64(b"\x10" * 100))
    path.clear()
    frames, _ = path.frames(b64(tagged(0x20)))
    assert decode_frames(frames) == tagged(0x20)


@pytest.mark.parametrize("bad", ["not base64!", "AAA", "AA=A", "ÿÿÿÿ"])
def test_agent_audio_that_is_not_base64_is_a_value_error(bad: str) -> None:
    for fmt in ("ulaw_8000", "pcm_16000"):
        with pytest.raises(ValueError, match="base64"):
            AgentToCaller(fmt).frames(bad)


# ------------------------------------------------------------ transcoding in
def test_caller_audio_to_pcm_8000_is_decoded_mulaw() -> None:
    path = CallerToAgent("pcm_8000")
    ulaw = mulaw.encode(tone(440, 20, 8000))
    out = base64.b64decode(path.convert(b64(ulaw)))
    assert len(out) == 320
    assert np.array_equal(np.frombuffer(out, dtype="<i2"), mulaw.decode(ulaw))


def test_caller_audio_to_pcm_16000_is_resampled_as_one_stream() -> None:
    path = CallerToAgent("pcm_16000")
    assert not path.passthrough
    ulaw = mulaw.encode(tone(440, 1000, 8000))
    chunks = [
        base64.b64decode(path.convert(b64(ulaw[i : i + FRAME_BYTES])))
        for i in range(0, len(ulaw), FRAME_BYTES)
    ]
    assert all(len(c) % 2 == 0 for c in chunks)
    pcm = np.frombuffer(b"".join(chunks), dtype="<i2")
    # A resampler holds some input back (at most ~61 ms here); the rest is 16 kHz.
    assert 16000 - 61 * 16 <= len(pcm) <= 16000
    assert dominant_hz(pcm[-8000:], 16000) == pytest.approx(440, abs=4)


# ------------------------------------------------------------ transcoding out
@pytest.mark.parametrize("chunk_ms", [20, 100, 240, 1000])
def test_agent_pcm_16000_becomes_n_over_20_frames_of_mulaw(chunk_ms: int) -> None:
    path = AgentToCaller("pcm_16000")
    frames: list[str] = []
    for _ in range(3):
        frames += path.frames(pcm_b64(tone(1000, chunk_ms, 16000)))[0]
    frames += path.flush()
    assert len(frames) == 3 * chunk_ms // 20
    ulaw = decode_frames(frames)
    assert dominant_hz(mulaw.decode(ulaw), 8000) == pytest.approx(1000, abs=8)


def test_remainders_are_carried_across_chunks_of_any_size() -> None:
    """h11's chunk-boundary habit: odd byte counts, tiny and large chunks, same audio."""
    signal = tone(700, 730, 16000).astype("<i2").tobytes()  # 730 ms: not a whole frame
    whole = AgentToCaller("pcm_16000")
    expected = whole.frames(b64(signal))[0] + whole.flush()

    sliced = AgentToCaller("pcm_16000")
    got: list[str] = []
    position, sizes, turn = 0, [1, 3, 639, 640, 641, 7, 4001, 2], 0
    while position < len(signal):
        size = sizes[turn % len(sizes)]
        got += sliced.frames(b64(signal[position : position + size]))[0]
        position, turn = position + size, turn + 1
    got += sliced.flush()
    assert len(got) == math.ceil(730 / 20)
    assert got == expected


def test_agent_pcm_8000_is_only_encoded() -> None:
    path = AgentToCaller("pcm_8000")
    pcm = tone(300, 40, 8000)
    frames, raw = path.frames(pcm_b64(pcm))
    assert decode_frames(frames) == mulaw.encode(pcm) == raw


def test_clear_also_drops_what_the_resampler_holds() -> None:
    """After a barge-in, nothing of the interrupted response may leak into the next."""
    path = AgentToCaller("pcm_16000")
    path.frames(pcm_b64(tone(1000, 110, 16000, amplitude=20000)))
    path.clear()
    frames, _ = path.frames(pcm_b64(np.zeros(16 * 200, dtype=np.int16)))
    frames += path.flush()
    assert frames
    loudest = int(np.max(np.abs(mulaw.decode(decode_frames(frames)).astype(np.int32))))
    assert loudest < 64
