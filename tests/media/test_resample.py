"""media.resample: what a caller or the agent's speech recogniser would notice.

Clicks at frame borders, a wrong pitch or length, whistles folded down from
above 4 kHz, audio stuck in the resampler, or one turn's tail leaking into the
next.
"""

import math
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pytest

from media.resample import Resampler

DIRECTIONS = [pytest.param(8000, 16000, id="8k-to-16k"), pytest.param(16000, 8000, id="16k-to-8k")]
AMPLITUDE = 16000
EDGE_S = 0.05  # a tone switched on or off abruptly rings for a few ms: judge the middle

Sample = TypeVar("Sample", bound=np.generic)


def tone(
    rate: int, hz: float, seconds: float, amplitude: float = AMPLITUDE
) -> npt.NDArray[np.int16]:
    t = np.arange(round(rate * seconds)) / rate
    return np.rint(amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def middle(pcm: npt.NDArray[Sample], rate: int) -> npt.NDArray[Sample]:
    edge = int(rate * EDGE_S)
    return pcm[edge:-edge]


def resample_whole(
    pcm: npt.NDArray[np.int16], in_rate: int, out_rate: int
) -> npt.NDArray[np.int16]:
    resampler = Resampler(in_rate, out_rate)
    return np.concatenate([resampler.process(pcm), resampler.flush()])


def resample_framed(
    pcm: npt.NDArray[np.int16], in_rate: int, out_rate: int, frame: int
) -> npt.NDArray[np.int16]:
    resampler = Resampler(in_rate, out_rate)
    pieces = [resampler.process(pcm[i : i + frame]) for i in range(0, len(pcm), frame)]
    return np.concatenate([*pieces, resampler.flush()])


def max_step(pcm: npt.NDArray[np.int16]) -> int:
    return int(np.abs(np.diff(pcm.astype(np.int32))).max())


@pytest.mark.parametrize(("in_rate", "out_rate"), DIRECTIONS)
def test_20ms_frames_give_exactly_the_whole_signal_result(in_rate: int, out_rate: int) -> None:
    # 1.013 s: the last frame is a partial one, as at the end of a real turn.
    signal = tone(in_rate, 440, 1.013)
    framed = resample_framed(signal, in_rate, out_rate, frame=in_rate // 50)
    whole = resample_whole(signal, in_rate, out_rate)
    # Bit-exact, not merely close: int16 I/O in libsoxr would dither and differ by 2 LSB.
    assert np.array_equal(framed, whole)


@pytest.mark.parametrize(("in_rate", "out_rate"), DIRECTIONS)
@pytest.mark.parametrize("frame", [1, 7, 159, 320, 1000])
def test_any_framing_gives_the_same_result(in_rate: int, out_rate: int, frame: int) -> None:
    signal = tone(in_rate, 440, 0.5)
    assert np.array_equal(
        resample_framed(signal, in_rate, out_rate, frame), resample_whole(signal, in_rate, out_rate)
    )


@pytest.mark.parametrize(("in_rate", "out_rate"), DIRECTIONS)
def test_no_click_at_frame_borders(in_rate: int, out_rate: int) -> None:
    framed = resample_framed(tone(in_rate, 440, 1.0), in_rate, out_rate, frame=in_rate // 50)
    whole = resample_whole(tone(in_rate, 440, 1.0), in_rate, out_rate)
    assert max_step(framed) <= max_step(whole)
    # And no sample jumps further than the sine's own steepest slope allows.
    steepest = AMPLITUDE * 2 * math.pi * 440 / out_rate
    assert max_step(middle(framed, out_rate)) <= steepest + 1


@pytest.mark.parametrize(("in_rate", "out_rate"), DIRECTIONS)
def test_output_is_the_same_tone_at_the_new_rate(in_rate: int, out_rate: int) -> None:
    out = resample_whole(tone(in_rate, 440, 1.0), in_rate, out_rate)
    t = np.arange(len(out)) / out_rate
    expected = AMPLITUDE * np.sin(2 * np.pi * 440 * t)
    # Same pitch, level and phase (no delay), to within the int16 rounding of
    # input and output (measured: 0.97 LSB up, 0.70 LSB down).
    assert np.abs(middle(out, out_rate) - middle(expected, out_rate)).max() <= 1.5


@pytest.mark.parametrize(("in_rate", "out_rate"), DIRECTIONS)
@pytest.mark.parametrize("n_in", [1, 2, 3, 159, 160, 161, 799, 8001, 12345])
def test_output_length_follows_the_rate_ratio(in_rate: int, out_rate: int, n_in: int) -> None:
    signal = tone(in_rate, 440, n_in / in_rate)
    assert len(signal) == n_in
    assert len(resample_whole(signal, in_rate, out_rate)) == math.ceil(n_in * out_rate / in_rate)


@pytest.mark.parametrize(("in_rate", "out_rate"), DIRECTIONS)
def test_audio_is_held_back_at_most_three_frames(in_rate: int, out_rate: int) -> None:
    # The latency the LQ preset was chosen for (HQ: up to 115 ms, 64 ms on average).
    resampler = Resampler(in_rate, out_rate)
    signal, frame = tone(in_rate, 440, 2.0), in_rate // 50
    produced, lag_ms = 0, []
    for i in range(0, len(signal), frame):
        produced += len(resampler.process(signal[i : i + frame]))
        lag_ms.append(((i + frame) * out_rate // in_rate - produced) * 1000 / out_rate)
    assert max(lag_ms) <= 61.25
    assert sum(lag_ms) / len(lag_ms) <= 33.0


def test_16k_to_8k_does_not_fold_high_frequencies_into_the_band() -> None:
    # 8 kHz audio cannot carry 6 kHz. Plain decimation would turn it into a
    # loud 2 kHz whistle; a filtering resampler outputs silence.
    out = resample_whole(tone(16000, 6000, 1.0), 16000, 8000)
    assert np.abs(middle(out, 8000)).max() <= 1


@pytest.mark.parametrize(("in_rate", "out_rate"), DIRECTIONS)
@pytest.mark.parametrize(
    ("hz", "max_loss_db"), [(300, 0.01), (1000, 0.01), (2800, 0.05), (3000, 0.5)]
)
def test_speech_band_keeps_its_level(
    in_rate: int, out_rate: int, hz: int, max_loss_db: float
) -> None:
    out = middle(resample_whole(tone(in_rate, hz, 1.0), in_rate, out_rate), out_rate)
    level = np.sqrt(2 * np.mean(out.astype(np.float64) ** 2))
    assert 20 * math.log10(level / AMPLITUDE) >= -max_loss_db


@pytest.mark.parametrize(("in_rate", "out_rate"), DIRECTIONS)
def test_full_scale_clips_instead_of_wrapping(in_rate: int, out_rate: int) -> None:
    # The filters overshoot full scale (to ~33,700 here); wrapping around int16
    # would turn the peak into a full-scale click.
    out = resample_whole(tone(in_rate, 1000, 0.5, amplitude=32767), in_rate, out_rate)
    assert out.max() == 32767
    assert max_step(out) <= 32767 * 2 * math.pi * 1000 / out_rate * 1.1


@pytest.mark.parametrize(("in_rate", "out_rate"), DIRECTIONS)
def test_after_flush_the_next_stream_starts_clean(in_rate: int, out_rate: int) -> None:
    resampler = Resampler(in_rate, out_rate)
    first, second = tone(in_rate, 440, 0.3), tone(in_rate, 1000, 0.3)
    resampler.process(first)
    resampler.flush()
    again = np.concatenate([resampler.process(second), resampler.flush()])
    assert np.array_equal(again, resample_whole(second, in_rate, out_rate))


@pytest.mark.parametrize(("in_rate", "out_rate"), DIRECTIONS)
def test_clear_drops_the_interrupted_turn(in_rate: int, out_rate: int) -> None:
    resampler = Resampler(in_rate, out_rate)
    held = resampler.process(tone(in_rate, 440, 0.1))
    assert len(held) < 0.1 * out_rate  # part of the turn is still inside
    resampler.clear()
    silence = np.zeros(in_rate // 10, dtype=np.int16)
    after = np.concatenate([resampler.process(silence), resampler.flush()])
    assert len(after) == out_rate // 10
    assert not after.any()


def test_rejects_what_it_cannot_resample() -> None:
    resampler = Resampler(8000, 16000)
    with pytest.raises(TypeError, match="pcm: expected int16"):
        resampler.process(np.zeros(160, dtype=np.float32))
    with pytest.raises(ValueError, match="pcm: expected a 1-D"):
        resampler.process(np.zeros((160, 2), dtype=np.int16))
    with pytest.raises(ValueError, match="in_rate"):
        Resampler(0, 16000)
    with pytest.raises(ValueError, match="out_rate"):
        Resampler(8000, -1)
