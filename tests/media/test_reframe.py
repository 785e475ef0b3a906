"""media.reframe: the same audio comes out in fixed frames, whatever the chunking.

As in h11's chunk-boundary test, one stream is fed in awkward slices; every
framing must give back the input byte for byte, in frames of the exact size.
"""

import random

import pytest

from media.reframe import Reframer

MIB = 1 << 20


def stream(length: int) -> bytes:
    # Not a repeating pattern, so a lost, doubled or reordered frame shows.
    return random.Random(length).randbytes(length)


def slices(data: bytes, sizes: list[int]) -> list[bytes]:
    """Cuts ``data`` into chunks whose sizes cycle through ``sizes``."""
    chunks, position, turn = [], 0, 0
    while position < len(data):
        size = sizes[turn % len(sizes)]
        chunks.append(data[position : position + size])
        position, turn = position + size, turn + 1
    return chunks


CHUNKINGS = {
    "byte-by-byte": [1],
    "159": [159],
    "161": [161],
    "exact-frames": [160],
    "1MiB": [MIB],
    "uneven": [1, 159, 161, 0, 3, 640, 2, 157, 1000, 7],
}


@pytest.mark.parametrize("frame_bytes", [160, 640])
@pytest.mark.parametrize("sizes", list(CHUNKINGS.values()), ids=list(CHUNKINGS))
@pytest.mark.parametrize("length", [0, 1, 159, 160, 161, 64_000 + 37])
def test_frames_and_flush_give_back_the_input(
    frame_bytes: int, sizes: list[int], length: int
) -> None:
    data = stream(length)
    reframer = Reframer(frame_bytes)
    frames = [frame for chunk in slices(data, sizes) for frame in reframer.push(chunk)]
    assert all(len(frame) == frame_bytes for frame in frames)
    assert len(frames) == length // frame_bytes
    assert reframer.pending_bytes == length % frame_bytes

    last = reframer.flush()
    remainder = length % frame_bytes
    if remainder:
        assert last is not None
        assert len(last) == frame_bytes
        assert last[remainder:] == b"\xff" * (frame_bytes - remainder)
        frames.append(last[:remainder])
    else:
        assert last is None
    assert b"".join(frames) == data
    assert reframer.pending_bytes == 0


def test_one_mebibyte_chunk_becomes_frames_at_once() -> None:
    data = stream(MIB)
    reframer = Reframer(160)
    frames = reframer.push(data)
    assert len(frames) == MIB // 160
    assert reframer.pending_bytes == MIB % 160
    assert b"".join(frames) == data[: len(frames) * 160]


def test_pending_bytes_counts_what_waits_for_a_frame() -> None:
    reframer = Reframer(160)
    assert reframer.push(b"\x01" * 100) == []
    assert reframer.pending_bytes == 100
    assert reframer.push(b"\x02" * 100) == [b"\x01" * 100 + b"\x02" * 60]
    assert reframer.pending_bytes == 40


def test_flush_pads_with_mulaw_silence_by_default_or_the_given_byte() -> None:
    silent = Reframer(160)
    silent.push(b"\x00" * 10)
    assert silent.flush() == b"\x00" * 10 + b"\xff" * 150

    pcm = Reframer(640, pad_byte=0)
    pcm.push(b"\x10" * 600)
    assert pcm.flush() == b"\x10" * 600 + b"\x00" * 40


def test_flush_with_nothing_pending_returns_none() -> None:
    reframer = Reframer(160)
    assert reframer.flush() is None
    reframer.push(b"\x00" * 320)
    assert reframer.flush() is None


def test_clear_drops_the_interrupted_remainder() -> None:
    reframer = Reframer(160)
    reframer.push(b"\x01" * 100)  # the tail of the interrupted agent turn
    reframer.clear()
    assert reframer.pending_bytes == 0
    assert reframer.flush() is None
    # The next turn starts on a frame border: none of the old bytes come back.
    assert reframer.push(b"\x02" * 160) == [b"\x02" * 160]


def test_frames_already_returned_do_not_change() -> None:
    # A frame completed from the carried remainder must not be a view of the
    # reframer's buffer, which is reused for the next remainder.
    reframer = Reframer(160)
    reframer.push(b"\x01" * 100)
    first = reframer.push(b"\x01" * 70)
    reframer.push(b"\x02" * 500)
    assert first == [b"\x01" * 160]
    assert all(type(frame) is bytes for frame in first)


def test_frame_size_is_exposed() -> None:
    assert Reframer().frame_bytes == 160
    assert Reframer(640).frame_bytes == 640


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"frame_bytes": 0}, "frame_bytes"),
        ({"pad_byte": 256}, "pad_byte"),
        ({"pad_byte": -1}, "pad_byte"),
    ],
)
def test_rejects_bad_configuration(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Reframer(**kwargs)
