"""Cuts audio chunks of any size into fixed-size frames.

The agent sends audio in chunks whose size follows its synthesizer, not the
telephone network; Twilio plays 20 ms frames (160 bytes of 8 kHz mu-law). The
``Reframer`` carries the bytes that do not fill a frame over to the next chunk,
so no byte is lost or reordered, whatever the chunk boundaries.
"""

from media.mulaw import SILENCE_BYTE


class Reframer:
    """Splits a byte stream into frames of exactly ``frame_bytes``.

    20 ms is 160 bytes of mu-law at 8 kHz and 640 bytes of 16-bit PCM at 16 kHz.
    Not thread-safe: one instance per stream.
    """

    def __init__(self, frame_bytes: int = 160, pad_byte: int = SILENCE_BYTE) -> None:
        """Creates an empty reframer.

        Args:
            frame_bytes: size of every frame returned.
            pad_byte: byte that fills the last frame on ``flush()``; the default
                is mu-law silence. Use 0 for linear PCM.

        Raises:
            ValueError: ``frame_bytes`` is not positive, or ``pad_byte`` is not a byte.
        """
        if frame_bytes <= 0:
            raise ValueError(f"frame_bytes: must be positive, got {frame_bytes}")
        if not 0 <= pad_byte <= 0xFF:
            raise ValueError(f"pad_byte: must be in 0..255, got {pad_byte}")
        self._frame_bytes = frame_bytes
        self._pad_byte = pad_byte
        self._pending = bytearray()

    @property
    def frame_bytes(self) -> int:
        """The size of every frame this reframer returns."""
        return self._frame_bytes

    @property
    def pending_bytes(self) -> int:
        """Bytes received but not yet returned in a frame (always < ``frame_bytes``)."""
        return len(self._pending)

    def push(self, data: bytes) -> list[bytes]:
        """Adds a chunk and returns the frames it completes.

        Args:
            data: the next bytes of the stream, any length.

        Returns:
            The complete frames, oldest first, each exactly ``frame_bytes`` long;
            empty when the chunk does not complete a frame. The remainder waits
            for the next ``push()`` or ``flush()``.
        """
        size = self._frame_bytes
        view = memoryview(data)
        frames: list[bytes] = []
        if self._pending:
            taken = size - len(self._pending)
            self._pending += view[:taken]
            view = view[taken:]
            if len(self._pending) < size:
                return frames
            frames.append(bytes(self._pending))
            self._pending.clear()
        whole = len(view) - len(view) % size
        frames.extend(view[start : start + size].tobytes() for start in range(0, whole, size))
        self._pending += view[whole:]
        return frames

    def flush(self) -> bytes | None:
        """Returns the remainder as one last frame, padded with ``pad_byte``.

        Call it when the stream ends (the agent finished its turn), so that its
        last few milliseconds are played too.

        Returns:
            One frame of exactly ``frame_bytes``, or None when nothing is pending.
        """
        if not self._pending:
            return None
        padding = bytes([self._pad_byte]) * (self._frame_bytes - len(self._pending))
        frame = bytes(self._pending) + padding
        self._pending.clear()
        return frame

    def clear(self) -> None:
        """Drops the remainder without returning it.

        Used on barge-in: audio the caller interrupted must not be played, not
        even its last partial frame.
        """
        self._pending.clear()
