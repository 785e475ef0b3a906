"""A call recording: caller on the left channel, agent on the right, aligned in time.

Theory of operation: during the call, ``add_caller`` and ``add_agent`` only
append ``(start_sample, bytes)`` references, so the media path pays a tuple per
frame and no decoding. All the work (decoding, mixing, the WAV file) happens in
``render`` and ``write_wav``, after the call, off the hot path.

The caller's frames come as Twilio's base64 text, fifty a second:
``add_caller_b64`` only appends the text and its timestamp to two lists (no tuple:
objects that outlive a frame are what sets the garbage collector going, and a
collection pauses every call of the process), and a second of frames is decoded in
one go (or sooner, whenever the chunks are read), a run of back-to-back frames
becoming one chunk. Readers see the same audio either way.

Both channels share one timeline, in samples since the start of the media
stream. The caller's chunks sit where Twilio's media ``timestamp`` says. The
agent's chunks are queued at Twilio and played back to back, so they sit at a
playhead: a chunk starts when the previous one ends, or when it was sent if the
queue had run dry. On barge-in Twilio's queue is cleared, so whatever was
placed after the barge-in was never heard and is cut from the recording.
"""

import binascii
import contextlib
import os
import tempfile
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from media import mulaw

_Chunks = list[tuple[int, bytes]]
# Caller frames held as base64 before they are decoded together: one second's worth.
CALLER_BATCH = 50


class CallRecording:
    """Collects one call's mu-law audio and renders it as a two-channel recording.

    Not thread-safe while the call is live: add audio from one thread, and
    render or write once the call is over (``render`` works on a snapshot, so a
    late frame arriving meanwhile is simply left out).
    """

    def __init__(self, sample_rate: int = 8000) -> None:
        """Creates an empty recording.

        Args:
            sample_rate: rate of the mu-law audio, in Hz; one byte is one sample.
                Twilio Media Streams always use 8000.

        Raises:
            ValueError: ``sample_rate`` is not positive.
        """
        if sample_rate <= 0:
            raise ValueError(f"sample_rate: must be a positive number of Hz, got {sample_rate}")
        self._rate = sample_rate
        self._caller: _Chunks = []
        self._agent: _Chunks = []
        self._agent_playhead = 0
        self._caller_end = 0
        self._caller_edge = 0  # start of the newest caller frame
        self._caller_b64: list[str] = []  # held frames' text, decoded a second at a time
        self._caller_b64_ms: list[int] = []  # and their timestamps
        self.undecodable_frames = 0

    @property
    def sample_rate(self) -> int:
        """Sample rate of the recording, in Hz."""
        return self._rate

    @property
    def caller_chunks(self) -> list[tuple[int, bytes]]:
        """The caller's ``(start_sample, mu-law)`` chunks, in arrival order; the live
        list itself, to read without copying (see :class:`media.live_mix.LiveMix`)."""
        if self._caller_b64:
            self._decode_caller()
        return self._caller

    @property
    def agent_chunks(self) -> list[tuple[int, bytes]]:
        """The agent's chunks, in time order; the live list (a barge-in shortens it)."""
        return self._agent

    @property
    def live_edge(self) -> int:
        """The sample up to which the recording can no longer change: the start of
        the newest caller chunk. Agent audio placed later starts at or after it, and a
        barge-in cuts only from it on (both happen at the caller's current time)."""
        if self._caller_b64:
            self._decode_caller()
        return self._caller_edge

    @property
    def duration_ms(self) -> int:
        """Length of the rendered recording in milliseconds, rounded up."""
        if self._caller_b64:
            self._decode_caller()
        agent_end = self._agent[-1][0] + len(self._agent[-1][1]) if self._agent else 0
        samples = max(self._caller_end, agent_end)
        return -(-samples * 1000 // self._rate)

    def add_caller(self, ulaw: bytes, at_ms: int) -> None:
        """Records caller audio as Twilio timestamped it.

        Args:
            ulaw: mu-law bytes of one media message; kept by reference.
            at_ms: the media message's ``timestamp``, ms since the stream started.

        Raises:
            ValueError: ``at_ms`` is negative.
        """
        if self._caller_b64:
            self._decode_caller()
        self._add_caller(ulaw, self._sample(at_ms))

    def add_caller_b64(self, payload: str, at_ms: int) -> None:
        """Records caller audio as Twilio sent it: base64 mu-law, decoded later.

        Args:
            payload: the media message's base64 ``payload``; text that does not
                decode is left out (and counted in ``undecodable_frames``).
            at_ms: the media message's ``timestamp``, ms since the stream started.

        Raises:
            ValueError: ``at_ms`` is negative.
        """
        if at_ms < 0:
            self._sample(at_ms)  # raises, naming the field
        pending = self._caller_b64
        pending.append(payload)
        self._caller_b64_ms.append(at_ms)
        if len(pending) >= CALLER_BATCH:
            self._decode_caller()

    def _add_caller(self, ulaw: bytes, start: int) -> None:
        if ulaw:
            self._caller.append((start, ulaw))
            self._caller_end = max(self._caller_end, start + len(ulaw))
            self._caller_edge = start

    def _decode_caller(self) -> None:
        """Decode the held caller frames; a back-to-back run becomes one chunk."""
        pending, self._caller_b64 = self._caller_b64, []
        stamps, self._caller_b64_ms = self._caller_b64_ms, []
        rate = self._rate
        try:
            decoded = list(map(binascii.a2b_base64, pending))
        except binascii.Error:
            for at_ms, payload in zip(stamps, pending, strict=True):
                try:
                    self._add_caller(binascii.a2b_base64(payload), at_ms * rate // 1000)
                except binascii.Error:
                    self.undecodable_frames += 1
            return
        first = stamps[0] * rate // 1000
        position = first
        for at_ms, ulaw in zip(stamps, decoded, strict=True):
            if at_ms * rate // 1000 != position or not ulaw:
                break
            position += len(ulaw)
        else:
            self._caller.append((first, b"".join(decoded)))
            self._caller_end = max(self._caller_end, position)
            self._caller_edge = position - len(decoded[-1])
            return
        for at_ms, ulaw in zip(stamps, decoded, strict=True):
            self._add_caller(ulaw, at_ms * rate // 1000)

    def add_agent(self, ulaw: bytes, at_ms: int) -> None:
        """Records agent audio where the caller hears it.

        Args:
            ulaw: mu-law bytes sent to Twilio; kept by reference.
            at_ms: when it was sent, ms since the stream started. It plays then,
                or when the audio queued before it has finished.

        Raises:
            ValueError: ``at_ms`` is negative.
        """
        start = max(self._agent_playhead, self._sample(at_ms))
        if ulaw:
            self._agent.append((start, ulaw))
            self._agent_playhead = start + len(ulaw)

    def cut_agent(self, at_ms: int) -> None:
        """Removes the agent audio the caller never heard because of a barge-in.

        Args:
            at_ms: when Twilio's queue was cleared, ms since the stream started.
                Agent audio placed after it is dropped, and the next agent audio
                starts no earlier than this.

        Raises:
            ValueError: ``at_ms`` is negative.
        """
        cut = self._sample(at_ms)
        chunks = self._agent
        # Agent chunks never overlap and are kept in time order (the playhead
        # only moves forward), so the unheard ones are all at the end.
        while chunks and chunks[-1][0] >= cut:
            chunks.pop()
        if chunks:
            start, ulaw = chunks[-1]
            if start + len(ulaw) > cut:
                chunks[-1] = (start, ulaw[: cut - start])
        self._agent_playhead = cut

    def render(self) -> npt.NDArray[np.int16]:
        """Decodes both channels onto the shared timeline.

        Returns:
            int16 array of shape ``(n, 2)``: column 0 is the caller, column 1
            the agent. Gaps are silence; where caller chunks overlap, the one
            added later wins.
        """
        if self._caller_b64:
            self._decode_caller()
        caller, agent = list(self._caller), list(self._agent)
        out = np.zeros((max(_end(caller), _end(agent)), 2), dtype=np.int16)
        for channel, chunks in ((0, caller), (1, agent)):
            pcm = mulaw.decode(b"".join(ulaw for _, ulaw in chunks))
            offset = 0
            for start, ulaw in chunks:
                out[start : start + len(ulaw), channel] = pcm[offset : offset + len(ulaw)]
                offset += len(ulaw)
        return out

    def write_wav(self, path: Path) -> Path:
        """Writes the recording as a 16-bit PCM stereo WAV file.

        It blocks for the whole render and write, so call it from a worker
        thread (e.g. ``asyncio.to_thread``). The file is written beside
        ``path`` under a temporary name, synced and then renamed, so ``path``
        is either absent, its old version, or complete; never half-written. It
        is readable by its owner only (recordings hold personal data).

        Args:
            path: where the file goes; its directory must exist. An existing
                file is replaced.

        Returns:
            ``path``.

        Raises:
            OSError: the file could not be written; no temporary file is left.
        """
        frames = self.render().astype("<i2", copy=False).tobytes()
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as raw:
                with wave.open(raw, "wb") as wav:
                    wav.setnchannels(2)
                    wav.setsampwidth(2)
                    wav.setframerate(self._rate)
                    wav.writeframes(frames)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return path

    def _sample(self, at_ms: int) -> int:
        """Converts a stream time in ms to a sample index on the timeline."""
        if at_ms < 0:
            raise ValueError(f"at_ms: must be >= 0 (ms since the stream started), got {at_ms}")
        return at_ms * self._rate // 1000


def _end(chunks: _Chunks) -> int:
    """The first sample after the last chunk (chunks may overlap and be out of order)."""
    return max((start + len(ulaw) for start, ulaw in chunks), default=0)
