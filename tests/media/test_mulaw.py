"""media.mulaw against the two references a telephony engineer would reach for.

- CPython's audioop (3.11): our tables must agree with it on every input.
- SoX: an independent G.711 implementation, driven on real speech (espeak-ng).
  Its decoder agrees with ours everywhere. Its encoder rounds a 16-bit sample
  to 14 bits to nearest (``SOX_SAMPLE_TO_SIGNED(14, ...)`` in sox.h adds half
  an LSB, 2 on the 16-bit scale, before shifting, and clips at 8191), where
  audioop shifts (rounds toward minus infinity). The tests assert that exact
  model, so they fail if either side changes.
"""

import subprocess
import warnings
import wave
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest

from media import mulaw
from tests.system_tools import require_tool

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_BYTES = bytes(range(256))
SPEECH = (
    "Hello, this is Parley calling about your account. "
    "Your balance is one thousand two hundred and fifty dollars and forty cents. "
    "Can we agree on a payment date this Friday?"
)


@pytest.fixture(scope="module")
def audioop() -> ModuleType:
    """CPython's deprecated reference codec, imported without its DeprecationWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ModuleNotFoundError:  # pragma: no cover - Python >= 3.13
            pytest.skip("audioop was removed in Python 3.13")
    return audioop


def run(*args: str | Path) -> None:
    subprocess.run([str(arg) for arg in args], check=True, capture_output=True)


def sox_encode(sox: str, pcm: npt.NDArray[np.int16], workdir: Path) -> bytes:
    """Encodes raw 16-bit PCM with SoX.

    ``-D``: without it SoX inserts its dither effect whenever the output has
    less precision than the input (u-law is 14-bit), and the bytes become random.
    """
    source, target = workdir / "in.s16", workdir / "out.ul"
    source.write_bytes(pcm.astype("<i2").tobytes())
    raw16 = ("-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-c", "1", "-r", "8000")
    ulaw = ("-t", "raw", "-e", "u-law", "-b", "8", "-c", "1", "-r", "8000")
    run(sox, "-D", *raw16, source, *ulaw, target)
    return target.read_bytes()


def sox_decode(sox: str, data: bytes, workdir: Path) -> npt.NDArray[np.int16]:
    source, target = workdir / "in.ul", workdir / "out.s16"
    source.write_bytes(data)
    ulaw = ("-t", "raw", "-e", "u-law", "-b", "8", "-c", "1", "-r", "8000")
    raw16 = ("-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-c", "1", "-r", "8000")
    run(sox, *ulaw, source, *raw16, target)
    return np.frombuffer(target.read_bytes(), dtype="<i2").astype(np.int16)


def rounded_to_14_bits(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """What SoX feeds its 14-bit encoder, on the 16-bit scale: round half up, clip at the top."""
    nearest: npt.NDArray[np.int32] = np.minimum((pcm.astype(np.int32) + 2) >> 2, 8191)
    return (nearest << 2).astype(np.int16)


def assert_one_level_up(higher: npt.NDArray[np.int16], lower: npt.NDArray[np.int16]) -> None:
    """Each ``higher`` sample is the mu-law level right above its ``lower`` one."""
    levels = np.unique(mulaw.decode(ALL_BYTES))
    assert len(higher) > 0
    assert np.array_equal(np.searchsorted(levels, higher), np.searchsorted(levels, lower) + 1)


@pytest.fixture(scope="module")
def speech_8k(tmp_path_factory: pytest.TempPathFactory) -> npt.NDArray[np.int16]:
    """A few seconds of synthetic speech as 8 kHz mono 16-bit PCM, as a phone would carry it."""
    espeak, sox = require_tool("espeak-ng"), require_tool("sox")
    workdir = tmp_path_factory.mktemp("speech")
    run(espeak, "-w", workdir / "speech.wav", SPEECH)
    pcm_wav = workdir / "speech_8k.wav"
    run(sox, workdir / "speech.wav", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed", pcm_wav)
    with wave.open(str(pcm_wav), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)
    # Guard against a vacuous comparison: this must be seconds of loud speech.
    assert len(pcm) > 3 * 8000
    assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 1000
    return pcm


def test_decode_matches_audioop_for_every_byte(audioop: ModuleType) -> None:
    assert mulaw.decode(ALL_BYTES).tobytes() == audioop.ulaw2lin(ALL_BYTES, 2)


def test_encode_matches_audioop_for_every_int16(audioop: ModuleType) -> None:
    assert mulaw.encode(ALL_INT16) == audioop.lin2ulaw(ALL_INT16.tobytes(), 2)


def test_known_codewords() -> None:
    # Anchors that do not depend on audioop: the G.711 extremes and both zeros.
    assert mulaw.decode(b"\x00\x80\xff\x7f").tolist() == [-32124, 32124, 0, 0]
    assert mulaw.encode(np.array([0, 32767, -32768], dtype=np.int16)) == b"\xff\x80\x00"


def test_silence_byte_is_zero() -> None:
    assert mulaw.SILENCE_BYTE == 0xFF
    assert mulaw.decode(bytes([mulaw.SILENCE_BYTE]) * 160).tolist() == [0] * 160
    assert mulaw.encode(np.zeros(160, dtype=np.int16)) == bytes([mulaw.SILENCE_BYTE]) * 160


def test_every_codeword_survives_decode_then_encode() -> None:
    # Passing audio through PCM and back must not degrade it; the only byte that
    # changes is negative zero (0x7F), which comes back as positive zero (0xFF).
    expected = ALL_BYTES.replace(b"\x7f", b"\xff")
    assert mulaw.encode(mulaw.decode(ALL_BYTES)) == expected


def test_encode_takes_one_channel_of_a_stereo_array() -> None:
    stereo = np.stack([ALL_INT16, ALL_INT16[::-1]], axis=1)
    assert mulaw.encode(stereo[:, 1]) == mulaw.encode(np.ascontiguousarray(ALL_INT16[::-1]))


def test_empty_input() -> None:
    assert mulaw.encode(np.zeros(0, dtype=np.int16)) == b""
    assert mulaw.decode(b"").shape == (0,)


def test_decoded_audio_is_the_callers_to_change() -> None:
    first = mulaw.decode(b"\x00")
    first[0] = 7
    assert mulaw.decode(b"\x00")[0] == -32124


def test_encode_refuses_float_audio() -> None:
    with pytest.raises(TypeError, match="pcm: expected int16"):
        mulaw.encode(np.zeros(160, dtype=np.float32))


def test_sox_decodes_every_byte_like_us(tmp_path: Path) -> None:
    sox = require_tool("sox")
    assert sox_decode(sox, ALL_BYTES, tmp_path).tolist() == mulaw.decode(ALL_BYTES).tolist()


def test_sox_encoder_rounds_to_nearest_where_we_round_down(tmp_path: Path) -> None:
    sox = require_tool("sox")
    from_sox = np.frombuffer(sox_encode(sox, ALL_INT16, tmp_path), dtype=np.uint8)
    ours = np.frombuffer(mulaw.encode(ALL_INT16), dtype=np.uint8)

    # SoX is exactly our (audioop's) encoder applied to the nearest 14-bit value.
    model = np.frombuffer(mulaw.encode(rounded_to_14_bits(ALL_INT16)), dtype=np.uint8)
    assert np.array_equal(from_sox, model)

    # So the two disagree only where the dropped two bits are 0b10 or 0b11 and
    # rounding up crosses into the next mu-law step: 508 of 65536 inputs.
    differ = from_sox != ours
    assert int(differ.sum()) == 508
    assert set((ALL_INT16[differ] & 3).tolist()) == {2, 3}
    assert_one_level_up(
        mulaw.decode(from_sox.tobytes())[differ], mulaw.decode(ours.tobytes())[differ]
    )


def test_speech_through_sox_and_through_us(
    speech_8k: npt.NDArray[np.int16], tmp_path: Path
) -> None:
    sox = require_tool("sox")
    from_sox = sox_encode(sox, speech_8k, tmp_path)
    ours = mulaw.encode(speech_8k)

    # Decoding: SoX and we turn SoX's bytes into the same PCM, sample for sample.
    assert np.array_equal(mulaw.decode(from_sox), sox_decode(sox, from_sox, tmp_path))

    # Encoding: SoX's bytes are ours after rounding to nearest 14-bit...
    assert from_sox == mulaw.encode(rounded_to_14_bits(speech_8k))
    # ...which on real speech changes a few percent of the bytes, each one step up.
    differ = np.frombuffer(from_sox, dtype=np.uint8) != np.frombuffer(ours, dtype=np.uint8)
    assert 0.01 < differ.mean() < 0.2
    assert_one_level_up(mulaw.decode(from_sox)[differ], mulaw.decode(ours)[differ])
