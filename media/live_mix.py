"""Both sides of a live call mixed for a listener, read from the call's recording.

Theory of operation: a supervisor listening in must not cost the call anything, so
nothing is added to the media path. The call already keeps its audio in a
:class:`~media.recording.CallRecording` (references to mu-law chunks on a shared
timeline); a listener reads the chunks added since its last read, every 100-200 ms,
decodes and mixes them, and moves on. Only the part of the timeline that can no
longer change is read (up to :attr:`CallRecording.live_edge`), so what a listener
hears is exactly what the recording keeps, barge-in cuts included.

Not thread-safe: read from the thread that feeds the recording (the event loop).
"""

import numpy as np
import numpy.typing as npt

from media import mulaw
from media.recording import CallRecording

_Chunks = list[tuple[int, bytes]]


class LiveMix:
    """A cursor into a live recording that yields caller + agent, mixed, as PCM16."""

    def __init__(self, recording: CallRecording) -> None:
        """Starts listening at the recording's live edge (now, not the beginning)."""
        self._recording = recording
        self.position = recording.live_edge
        self._caller_i = _first_after(recording.caller_chunks, self.position)
        self._agent_i = _first_after(recording.agent_chunks, self.position)

    @property
    def sample_rate(self) -> int:
        return self._recording.sample_rate

    def read(self) -> bytes:
        """The mix from the last read up to the live edge: mono PCM16 little-endian.

        Returns ``b""`` when nothing new can be read yet.
        """
        recording = self._recording
        start, end = self.position, recording.live_edge
        if end <= start:
            return b""
        mixed = np.zeros(end - start, dtype=np.int32)
        self._caller_i = _mix_into(recording.caller_chunks, self._caller_i, start, mixed)
        self._agent_i = _mix_into(recording.agent_chunks, self._agent_i, start, mixed)
        self.position = end
        return np.clip(mixed, -32768, 32767).astype("<i2").tobytes()


def mix_channels(stereo: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """A rendered two-channel recording mixed down the way :class:`LiveMix` mixes it."""
    summed: npt.NDArray[np.int32] = stereo.astype(np.int32).sum(axis=1)
    mixed: npt.NDArray[np.int16] = np.clip(summed, -32768, 32767).astype(np.int16)
    return mixed


def _first_after(chunks: _Chunks, position: int) -> int:
    """Index of the first chunk that ends after ``position`` (searching from the end)."""
    i = len(chunks)
    while i > 0 and chunks[i - 1][0] + len(chunks[i - 1][1]) > position:
        i -= 1
    return i


def _mix_into(chunks: _Chunks, index: int, start: int, out: npt.NDArray[np.int32]) -> int:
    """Add the chunks overlapping ``[start, start + len(out))`` into ``out``.

    Returns the index to resume from: the first chunk not wholly read.
    """
    end = start + len(out)
    i = min(index, len(chunks))  # a barge-in may have removed chunks not yet read
    while i < len(chunks):
        at, ulaw = chunks[i]
        if at >= end:
            break
        lo, hi = max(at, start), min(at + len(ulaw), end)
        if hi > lo:
            out[lo - start : hi - start] += mulaw.decode(ulaw[lo - at : hi - at])
        if at + len(ulaw) > end:
            break
        i += 1
    return i
