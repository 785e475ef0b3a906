"""Speech synthesis, the energy VAD, frame tags and agent audio formats."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.standins import agent_audio, frame_tag, speech
from gateway.standins.energy_vad import EnergyVad, SpeechEnded, SpeechStarted
from media import mulaw


def test_synthesize_is_cached_read_only_speech_at_the_requested_rate() -> None:
    audio = speech.synthesize("Hello, this is a test.")
    assert audio.dtype == np.int16 and audio.ndim == 1
    assert 0.8 < len(audio) / 8000 < 3.0
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 500
    assert speech.synthesize("Hello, this is a test.") is audio
    assert not audio.flags.writeable
    wide = speech.synthesize("Hello, this is a test.", sample_rate=16000)
    assert abs(len(wide) - 2 * len(audio)) <= 2
    spanish = speech.synthesize("-Hola, ¿qué tal?", voice="es-MX")
    assert len(spanish) > 4000


def test_fallback_recording_when_espeak_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.standins.speech.shutil.which", lambda name: None)
    speech._synthesize_cached.cache_clear()
    try:
        short = speech.synthesize("Hi")
        long = speech.synthesize("A much longer sentence that needs several seconds of audio.")
    finally:
        speech._synthesize_cached.cache_clear()
    assert len(short) == int(0.3 * 8000)
    assert len(long) == int(
        len("A much longer sentence that needs several seconds of audio.")
        * speech.FALLBACK_SECONDS_PER_CHAR
        * 8000
    )
    recording, rate = speech._fallback_recording()
    assert rate == 8000 and np.array_equal(long[: len(recording)], recording)


def test_parse_streamed_wav_ignores_bogus_sizes() -> None:
    header = (
        b"RIFF\xff\xff\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
        + (22050).to_bytes(4, "little")
        + (44100).to_bytes(4, "little")
        + b"\x02\x00\x10\x00data\x00\xf0\xff\x7f"
    )
    pcm, rate = speech.parse_streamed_wav(header + b"\x01\x00\x02\x00\x03")
    assert rate == 22050 and pcm.tolist() == [1, 2]
    with pytest.raises(speech.SpeechError):
        speech.parse_streamed_wav(b"garbage")


def test_energy_vad_start_end_and_durations_in_audio_time() -> None:
    vad = EnergyVad(8000)
    loud = np.full(8000, 3000, dtype=np.int16)  # 1 s
    quiet = np.zeros(8000, dtype=np.int16)
    events = vad.feed(quiet[:1600]) + vad.feed(loud) + vad.feed(quiet[:4000]) + vad.feed(quiet)
    assert events == [SpeechStarted(at_ms=260), SpeechEnded(at_ms=1700, speech_ms=1000)]
    # Chunking does not matter: odd-sized pieces give the same answer.
    again = EnergyVad(8000)
    stream = np.concatenate((quiet[:1600], loud, quiet))
    pieces = [again.feed(stream[i : i + 77]) for i in range(0, len(stream), 77)]
    assert [e for p in pieces for e in p] == events


def test_energy_vad_force_end() -> None:
    vad = EnergyVad(16000)
    vad.feed(np.full(3200, 5000, dtype=np.int16))
    assert vad.speaking
    assert vad.force_end() == SpeechEnded(at_ms=200, speech_ms=200)
    assert vad.force_end() is None


def test_frame_tags_round_trip_and_stay_quiet() -> None:
    frame = bytes([0xFF]) * 160
    tagged = frame_tag.tag_frame(frame, 0xDEADBEEF)
    assert len(tagged) == 160 and frame_tag.read_tag(tagged) == 0xDEADBEEF
    assert frame_tag.read_tag(frame) is None
    assert np.abs(mulaw.decode(tagged)).max() <= 120


@pytest.mark.parametrize("fmt", ["ulaw_8000", "pcm_8000", "pcm_16000", "pcm_44100"])
def test_agent_audio_formats_round_trip(fmt: str) -> None:
    pcm = (np.sin(np.arange(800) / 5) * 8000).astype(np.int16)
    data = agent_audio.encode(pcm, fmt)
    assert len(data) == 800 * agent_audio.bytes_per_second(fmt) // agent_audio.sample_rate(fmt)
    back = agent_audio.decode(data, fmt)
    tolerance = 300 if fmt == "ulaw_8000" else 0
    assert np.abs(back.astype(np.int32) - pcm).max() <= tolerance
    with pytest.raises(ValueError, match="unknown"):
        agent_audio.check_format("mp3_44100")
