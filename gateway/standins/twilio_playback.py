"""Twilio's outbound audio buffer for one stream: media, marks and ``clear``.

Why modelled exactly: the gateway's barge-in and "what did the caller hear" logic
rests on these rules (reference §1.3-1.4), so the stand-in must keep them:

- ``media`` payloads queue up and play in arrival order at real time, 160 bytes
  (20 ms of mu-law) per tick, whatever size they arrived in;
- a ``mark`` is echoed once the audio queued before it has finished playing; a mark
  that arrives with nothing queued is echoed at once;
- ``clear`` drops the queued audio and echoes every pending mark at once.

Sans-I/O: the media client calls :meth:`PlayQueue.tick` every 20 ms and sends the
echoes it returns. Audio taken at tick *t* plays from *t* to *t + 20 ms*, so a mark
passed while taking it is echoed at the next tick, when that audio has finished.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class _Mark:
    name: str


class PlayQueue:
    """Queued agent audio and marks, consumed in real time."""

    def __init__(self, frame_bytes: int = 160) -> None:
        self.frame_bytes = frame_bytes
        self._items: deque[bytes | _Mark] = deque()
        self._audio_bytes = 0
        self._finishing: list[str] = []

    @property
    def queued_bytes(self) -> int:
        """Audio waiting to be played."""
        return self._audio_bytes

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing waiting to finish."""
        return not self._items and not self._finishing

    def push_media(self, payload: bytes) -> None:
        if payload:
            self._items.append(payload)
            self._audio_bytes += len(payload)

    def push_mark(self, name: str) -> list[str]:
        """Queue a mark; return the marks to echo right now (this one, if idle)."""
        if not self._items:
            if not self._finishing:
                return [name]
            self._finishing.append(name)  # echoed when the frame in flight ends
            return []
        self._items.append(_Mark(name))
        return []

    def clear(self) -> tuple[list[str], int]:
        """Drop queued audio; return (marks to echo now, audio bytes dropped)."""
        echoes = self._finishing + [item.name for item in self._items if isinstance(item, _Mark)]
        dropped = self._audio_bytes
        self._items.clear()
        self._finishing = []
        self._audio_bytes = 0
        return echoes, dropped

    def tick(self) -> tuple[bytes, list[str]]:
        """Advance 20 ms: return (audio starting to play now, marks to echo now)."""
        echoes = self._finishing
        self._finishing = []
        items = self._items
        while items and isinstance(head := items[0], _Mark):
            items.popleft()
            echoes.append(head.name)
        wanted = self.frame_bytes
        taken: list[bytes] = []
        while items and wanted:
            item = items.popleft()
            if isinstance(item, _Mark):
                self._finishing.append(item.name)
            elif len(item) <= wanted:
                taken.append(item)
                wanted -= len(item)
            else:
                taken.append(item[:wanted])
                items.appendleft(item[wanted:])
                wanted = 0
        while items and isinstance(tail := items[0], _Mark):
            items.popleft()
            self._finishing.append(tail.name)
        played = b"".join(taken)
        self._audio_bytes -= len(played)
        return played, echoes
