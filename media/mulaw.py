"""G.711 mu-law codec: the audio format of Twilio Media Streams.

Theory of operation: mu-law maps a 14-bit linear sample to one byte, so both
directions fit in a lookup table. The tables are built once, at import, with
numpy; after that a frame costs one fancy-index and nothing else.

The tables reproduce CPython's ``audioop.lin2ulaw(x, 2)`` and
``audioop.ulaw2lin(x, 2)`` bit for bit (the reference the rest of the Python
world used until audioop was removed in 3.13). audioop reduces a 16-bit sample
to 14 bits with an arithmetic shift, i.e. it rounds toward minus infinity.
SoX rounds to nearest instead (``SOX_SAMPLE_TO_SIGNED(14, ...)`` adds half an
LSB before shifting), so SoX's encoder picks a different byte for 508 of the
65536 inputs; both decoders agree everywhere. tests/media/test_mulaw.py pins
down both facts.
"""

from typing import Final

import numpy as np
import numpy.typing as npt

SILENCE_BYTE: Final = 0xFF
"""The mu-law byte for 0 (positive zero): what a silent 8 kHz frame is made of."""

# Sun/ITU reference constants, on the 14-bit scale that audioop's encoder works in.
_BIAS_14: Final = 0x84 >> 2
_CLIP_14: Final = 32635 >> 2
# The largest biased magnitude of each of the eight segments (exponents).
_SEGMENT_END: Final = np.array(
    [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32
)


def _build_encode_table() -> npt.NDArray[np.uint8]:
    """Encodes every int16 value, indexed by the value's uint16 bit pattern."""
    linear = np.arange(1 << 16, dtype=np.uint16).view(np.int16).astype(np.int32)
    value14 = linear >> 2  # audioop: arithmetic shift, so -1..-3 become -1
    negative = value14 < 0
    magnitude = np.minimum(np.abs(value14), _CLIP_14) + _BIAS_14
    segment = np.searchsorted(_SEGMENT_END, magnitude, side="left").astype(np.int32)
    mantissa = (magnitude >> (segment + 1)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | mantissa)
    # mu-law transmits the ones' complement; the sign bit is set for positives.
    mask = np.where(negative, 0x7F, 0xFF)
    return (code ^ mask).astype(np.uint8)


def _build_decode_table() -> npt.NDArray[np.int16]:
    """Decodes every byte value to its 16-bit linear sample."""
    inverted = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (inverted & 0x70) >> 4
    magnitude = (((inverted & 0x0F) << 3) + 0x84) << exponent
    linear = np.where(inverted & 0x80, 0x84 - magnitude, magnitude - 0x84)
    return linear.astype(np.int16)


_ENCODE: Final = _build_encode_table()
_DECODE: Final = _build_decode_table()
_ENCODE.flags.writeable = False
_DECODE.flags.writeable = False


def decode(data: bytes) -> npt.NDArray[np.int16]:
    """Decodes mu-law bytes to linear PCM.

    Args:
        data: mu-law bytes, one sample per byte (any length, including 0).

    Returns:
        A new, writable int16 array with ``len(data)`` samples.
    """
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]


def encode(pcm: npt.NDArray[np.int16]) -> bytes:
    """Encodes linear PCM to mu-law bytes.

    Args:
        pcm: int16 samples of any shape (read in C order); a strided view such
            as one channel of a stereo array is fine.

    Returns:
        One mu-law byte per sample.

    Raises:
        TypeError: ``pcm`` is not int16. Float audio has no single right
            scaling, so the caller converts it explicitly.
    """
    if pcm.dtype != np.int16:
        raise TypeError(f"pcm: expected int16 samples, got {pcm.dtype}")
    # The uint16 view reinterprets the sign bit, so every int16 is a valid index.
    return _ENCODE[pcm.view(np.uint16)].tobytes()
