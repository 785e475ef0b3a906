"""What one bench peer received of one call's tagged frames in one direction.

The receiver notes every tagged frame; the sender's counts are joined to it after the
run (:mod:`bin.bench_merge`). A frame whose sequence number is lower than one already
seen is *reordered*; a number seen twice is a *duplicate*; numbers never seen are
missing (dropped, unless the join finds a reason). Latency is noted only for frames
past the first second of the call (``warmup_frames``), but every frame is counted,
twice: from the send to the frame's arrival at the receiver's socket (the kernel's
stamp, :mod:`bin.bench_socket`), and to the moment the receiver read it.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from bin.bench_tag import MAX_SEQ

WARMUP_FRAMES = 50  # the first second of 20 ms frames is not timed


@dataclass(slots=True)
class Arrivals:
    call: int
    warmup_frames: int = WARMUP_FRAMES
    seen: bytearray = field(default_factory=bytearray)
    received: int = 0
    reordered: int = 0
    duplicates: int = 0
    foreign: int = 0  # tagged with another call's index: misrouted
    untagged: int = 0
    max_seq: int = -1
    latency_ns: array[int] = field(default_factory=lambda: array("q"))  # to the socket
    read_latency_ns: array[int] = field(default_factory=lambda: array("q"))  # to the read

    def note(self, tagged: tuple[int, int, int] | None, now_ns: int, arrived_ns: int) -> None:
        """Account for one received frame (its tag as read by ``bench_tag``), read at
        ``now_ns``, its bytes at the socket since ``arrived_ns``."""
        if tagged is None:
            self.untagged += 1
            return
        call, seq, sent_ns = tagged
        if call != self.call or seq >= MAX_SEQ:
            self.foreign += 1
            return
        seen = self.seen
        if seq >= len(seen):
            seen.extend(bytes(seq - len(seen) + 1024))
        if seen[seq]:
            self.duplicates += 1
            return
        seen[seq] = 1
        self.received += 1
        if seq < self.max_seq:
            self.reordered += 1
        else:
            self.max_seq = seq
        if seq >= self.warmup_frames:
            self.latency_ns.append(arrived_ns - sent_ns)
            self.read_latency_ns.append(now_ns - sent_ns)

    def missing(self, sent: int) -> list[int]:
        """Sequence numbers below ``sent`` that never arrived."""
        seen = self.seen
        have = min(len(seen), sent)
        gaps = [seq for seq in range(have) if not seen[seq]]
        gaps.extend(range(have, sent))
        return gaps

    def unexpected(self, sent: int) -> int:
        """Frames received with a sequence number the sender never used."""
        return sum(self.seen[sent:])
