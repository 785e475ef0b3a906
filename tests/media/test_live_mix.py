"""media.live_mix: a listener hears exactly what the recording keeps, however it reads."""

import numpy as np

from media import mulaw
from media.live_mix import LiveMix, mix_channels
from media.recording import CallRecording

FRAME = 160


def tone(n: int, level: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return mulaw.encode((rng.standard_normal(n) * level).astype(np.int16))


def simulate(recording: CallRecording, reads_every: int, mix: LiveMix | None = None) -> list[bytes]:
    """Two seconds of a call: caller frames every 20 ms, the agent talks in bursts
    (queued ahead of the caller's clock), the caller barges in at 1.3 s."""
    got: list[bytes] = []
    for n in range(100):
        at_ms = n * 20
        recording.add_caller(tone(FRAME, 3000, n), at_ms)
        if n in (5, 40, 60):  # a response queued at once, longer than the gap to the next
            recording.add_agent(tone(FRAME * 20, 6000, 1000 + n), at_ms)
        if n == 65:
            recording.cut_agent(at_ms + 7)
        if mix is not None and n % reads_every == 0:
            got.append(mix.read())
    return got


def test_reads_of_any_size_add_up_to_the_recording_mixed_down() -> None:
    whole = None
    for reads_every in (1, 3, 7, 10):
        recording = CallRecording()
        mix = LiveMix(recording)
        got = b"".join(simulate(recording, reads_every, mix))
        expected = mix_channels(recording.render())[: len(got) // 2]
        assert len(got) // 2 == mix.position > 8000  # well past the cut and every burst
        assert np.array_equal(np.frombuffer(got, "<i2"), expected)
        whole = whole or got
        assert got[: len(whole)] == whole[: len(got)]


def test_a_listener_starts_at_the_live_edge_not_at_the_beginning() -> None:
    recording = CallRecording()
    for n in range(50):
        recording.add_caller(tone(FRAME, 3000, n), n * 20)
    recording.add_agent(tone(FRAME * 10, 6000, 99), 49 * 20)
    mix = LiveMix(recording)
    assert mix.position == 49 * FRAME
    assert mix.read() == b""  # nothing is final yet beyond the newest caller frame
    recording.add_caller(tone(FRAME, 3000, 50), 50 * 20)
    got = np.frombuffer(mix.read(), "<i2")
    assert np.array_equal(got, mix_channels(recording.render())[49 * FRAME : 50 * FRAME])
    assert np.count_nonzero(got) > FRAME // 2


def test_both_sides_are_in_the_mix_and_loud_sums_are_clipped() -> None:
    recording = CallRecording()
    mix = LiveMix(recording)
    loud = mulaw.encode(np.full(FRAME, 30000, dtype=np.int16))
    recording.add_caller(loud, 0)
    recording.add_agent(loud, 0)
    recording.add_caller(loud, 20)
    pcm = np.frombuffer(mix.read(), "<i2")
    assert len(pcm) == FRAME and pcm.max() == 32767
