"""media.recording: a supervisor listening back hears both sides where they happened.

Each side gets a recognisable level so that a test can tell, sample by sample,
whose audio lies where on the timeline.
"""

import base64
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from media import mulaw
from media.recording import CallRecording

FRAME = 160  # 20 ms at 8 kHz
SAMPLES_PER_MS = 8


def level(value: int, samples: int = FRAME) -> bytes:
    """mu-law audio of a constant level, so each chunk is recognisable after decoding."""
    return mulaw.encode(np.full(samples, value, dtype=np.int16))


def pcm(value: int) -> int:
    """What ``level(value)`` decodes to."""
    return int(mulaw.decode(level(value, 1))[0])


def runs(channel: npt.NDArray[np.int16]) -> list[tuple[int, int, int]]:
    """The channel as (start, stop, value) runs of constant samples: the timeline in brief."""
    edges = np.flatnonzero(np.diff(channel)) + 1
    starts = [0, *edges.tolist()]
    stops = [*edges.tolist(), len(channel)]
    return [(start, stop, int(channel[start])) for start, stop in zip(starts, stops, strict=True)]


CALLER_A, CALLER_B, AGENT_A, AGENT_B = pcm(1000), pcm(-2000), pcm(3000), pcm(-4000)


def test_caller_audio_lands_at_its_timestamp() -> None:
    recording = CallRecording()
    recording.add_caller(level(1000), at_ms=0)
    recording.add_caller(level(-2000), at_ms=60)  # two frames lost in between
    caller = recording.render()[:, 0]
    assert runs(caller) == [(0, 160, CALLER_A), (160, 480, 0), (480, 640, CALLER_B)]


def test_later_caller_chunk_wins_where_two_overlap() -> None:
    recording = CallRecording()
    recording.add_caller(level(1000), at_ms=0)
    recording.add_caller(level(-2000), at_ms=10)
    assert runs(recording.render()[:, 0]) == [(0, 80, CALLER_A), (80, 240, CALLER_B)]


def test_agent_audio_plays_back_to_back_from_its_playhead() -> None:
    recording = CallRecording()
    # The agent sends 60 ms in one burst at 100 ms: Twilio plays it back to back.
    for value in (3000, -4000, 3000):
        recording.add_agent(level(value), at_ms=100)
    # Sent at 150 ms, but the queue only runs dry at 160 ms.
    recording.add_agent(level(-4000), at_ms=150)
    # Sent at 500 ms, long after the queue ran dry: it plays at once.
    recording.add_agent(level(3000), at_ms=500)
    agent = recording.render()[:, 1]
    assert runs(agent) == [
        (0, 800, 0),
        (800, 960, AGENT_A),
        (960, 1120, AGENT_B),
        (1120, 1280, AGENT_A),
        (1280, 1440, AGENT_B),
        (1440, 4000, 0),
        (4000, 4160, AGENT_A),
    ]


def test_both_channels_share_one_timeline() -> None:
    recording = CallRecording()
    recording.add_agent(level(3000), at_ms=40)
    recording.add_caller(level(1000), at_ms=40)
    stereo = recording.render()
    assert stereo.shape == (480, 2)
    assert stereo.dtype == np.int16
    assert runs(stereo[:, 0]) == [(0, 320, 0), (320, 480, CALLER_A)]
    assert runs(stereo[:, 1]) == [(0, 320, 0), (320, 480, AGENT_A)]


def test_barge_in_cuts_what_the_caller_never_heard() -> None:
    recording = CallRecording()
    recording.add_agent(level(3000, samples=8000), at_ms=0)  # one second queued at once
    recording.add_agent(level(-4000), at_ms=0)  # and more behind it
    recording.add_caller(level(1000), at_ms=300)
    recording.cut_agent(at_ms=300)  # the caller spoke over the agent
    recording.add_agent(level(-4000), at_ms=500)  # the agent's answer
    agent = recording.render()[:, 1]
    assert runs(agent) == [(0, 2400, AGENT_A), (2400, 4000, 0), (4000, 4160, AGENT_B)]
    assert recording.duration_ms == 520


def test_barge_in_between_chunks_and_after_playback() -> None:
    recording = CallRecording()
    recording.add_agent(level(3000), at_ms=0)
    recording.add_agent(level(-4000), at_ms=0)
    recording.cut_agent(at_ms=20)  # exactly on the border: the first chunk stays whole
    assert runs(recording.render()[:, 1]) == [(0, 160, AGENT_A)]
    recording.cut_agent(at_ms=1000)  # nothing was playing: nothing to cut
    assert runs(recording.render()[:, 1]) == [(0, 160, AGENT_A)]
    assert recording.duration_ms == 20


def test_next_agent_audio_never_starts_before_the_cut() -> None:
    recording = CallRecording()
    recording.add_agent(level(3000, samples=800), at_ms=0)
    recording.cut_agent(at_ms=50)
    recording.add_agent(level(-4000), at_ms=30)  # sent before the clear reached Twilio
    assert runs(recording.render()[:, 1]) == [(0, 400, AGENT_A), (400, 560, AGENT_B)]


def test_duration_and_empty_recording() -> None:
    recording = CallRecording()
    assert recording.duration_ms == 0
    assert recording.render().shape == (0, 2)
    recording.add_caller(level(1000), at_ms=980)
    assert recording.duration_ms == 1000
    recording.add_agent(b"", at_ms=5000)  # an empty chunk takes no room
    assert recording.duration_ms == 1000


def test_chunks_are_kept_by_reference_not_decoded() -> None:
    recording = CallRecording()
    chunk = level(1000)
    recording.add_caller(chunk, at_ms=0)
    recording.add_agent(chunk, at_ms=0)
    assert recording._caller[0][1] is chunk
    assert recording._agent[0][1] is chunk


def test_wav_read_back_has_both_sides(tmp_path: Path) -> None:
    recording = CallRecording()
    recording.add_caller(level(1000), at_ms=0)
    recording.add_agent(level(3000), at_ms=20)
    recording.add_caller(level(-2000), at_ms=40)
    path = recording.write_wav(tmp_path / "call.wav")

    assert path == tmp_path / "call.wav"
    assert [p.name for p in tmp_path.iterdir()] == ["call.wav"]  # no temporary left behind
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 2
        assert wav.getframerate() == 8000
        assert wav.getsampwidth() == 2
        assert wav.getcomptype() == "NONE"
        assert wav.getnframes() == 480
        stereo = np.frombuffer(wav.readframes(480), dtype="<i2").reshape(-1, 2)
    assert runs(stereo[:, 0]) == [(0, 160, CALLER_A), (160, 320, 0), (320, 480, CALLER_B)]
    assert runs(stereo[:, 1]) == [(0, 160, 0), (160, 320, AGENT_A), (320, 480, 0)]


def test_wav_replaces_an_older_file(tmp_path: Path) -> None:
    target = tmp_path / "call.wav"
    target.write_bytes(b"stale")
    recording = CallRecording()
    recording.add_caller(level(1000), at_ms=0)
    recording.write_wav(target)
    with wave.open(str(target), "rb") as wav:
        assert wav.getnframes() == FRAME


def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(self: wave.Wave_write, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wave.Wave_write, "writeframes", disk_full)
    recording = CallRecording()
    recording.add_caller(level(1000), at_ms=0)
    with pytest.raises(OSError, match="No space left"):
        recording.write_wav(tmp_path / "call.wav")
    assert list(tmp_path.iterdir()) == []


def test_other_sample_rates_place_by_their_own_clock(tmp_path: Path) -> None:
    recording = CallRecording(sample_rate=16000)
    recording.add_caller(level(1000, samples=320), at_ms=20)
    assert runs(recording.render()[:, 0]) == [(0, 320, 0), (320, 640, CALLER_A)]
    assert recording.duration_ms == 40
    with wave.open(str(recording.write_wav(tmp_path / "wide.wav")), "rb") as wav:
        assert wav.getframerate() == 16000


def test_rejects_times_before_the_stream_and_bad_rates() -> None:
    recording = CallRecording()
    with pytest.raises(ValueError, match="at_ms"):
        recording.add_caller(level(1000), at_ms=-1)
    with pytest.raises(ValueError, match="at_ms"):
        recording.add_agent(level(1000), at_ms=-20)
    with pytest.raises(ValueError, match="at_ms"):
        recording.cut_agent(at_ms=-1)
    with pytest.raises(ValueError, match="sample_rate"):
        CallRecording(sample_rate=0)


# ------------------------------------------------------ caller audio as base64 text
def b64(ulaw: bytes) -> str:
    return base64.b64encode(ulaw).decode()


def frames_of(values: list[int]) -> list[bytes]:
    return [level(v) for v in values]


@pytest.mark.parametrize("count", [1, 49, 50, 51, 130])
def test_base64_caller_frames_render_like_decoded_ones(count: int) -> None:
    values = [1000 if n % 3 else -2000 for n in range(count)]
    stamps = [20 * n for n in range(count)]
    stamps[count // 2] += 40 if count > 2 else 0  # a lost frame: a gap, then a run again
    decoded, text = CallRecording(), CallRecording()
    for ulaw, at in zip(frames_of(values), stamps, strict=True):
        decoded.add_caller(ulaw, at)
        text.add_caller_b64(b64(ulaw), at)
    assert text.duration_ms == decoded.duration_ms
    assert np.array_equal(text.render(), decoded.render())


def test_base64_frames_that_overlap_or_come_late_keep_the_later_one_winning() -> None:
    decoded, text = CallRecording(), CallRecording()
    for value, at in ((1000, 0), (-2000, 10), (1000, 40), (-2000, 20)):
        decoded.add_caller(level(value), at)
        text.add_caller_b64(b64(level(value)), at)
    assert np.array_equal(text.render(), decoded.render())


def test_a_listener_reads_base64_frames_up_to_the_newest_one() -> None:
    recording = CallRecording()
    for n in range(7):
        recording.add_caller_b64(b64(level(1000)), 20 * n)
    # Not yet decoded (under a batch), but reading decodes: the edge is the last frame.
    assert recording.live_edge == 6 * FRAME
    assert sum(len(ulaw) for _, ulaw in recording.caller_chunks) == 7 * FRAME


def test_base64_and_decoded_caller_frames_keep_their_order() -> None:
    recording = CallRecording()
    recording.add_caller_b64(b64(level(1000)), 0)
    recording.add_caller(level(-2000), 0)  # added later: it wins
    assert runs(recording.render()[:, 0]) == [(0, 160, CALLER_B)]


def test_undecodable_base64_is_left_out_and_counted() -> None:
    recording = CallRecording()
    recording.add_caller_b64(b64(level(1000)), 0)
    recording.add_caller_b64("A", 20)
    recording.add_caller_b64(b64(level(-2000)), 40)
    expected = [(0, 160, CALLER_A), (160, 320, 0), (320, 480, CALLER_B)]
    assert runs(recording.render()[:, 0]) == expected
    assert recording.undecodable_frames == 1


def test_a_negative_base64_timestamp_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="at_ms"):
        CallRecording().add_caller_b64(b64(level(1000)), -20)
