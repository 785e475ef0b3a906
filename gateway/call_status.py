"""Call progress from Twilio's status callbacks, tolerant of out-of-order delivery.

Each callback is its own HTTP request, so ``ringing`` can arrive after
``in-progress`` (reference ``twilio-resend.md`` §3.5). A status is applied only if it
moves the call forward: by its rank in the life of a call, and among equals by
``SequenceNumber``. A final status (completed, busy, no-answer, failed, canceled)
is never replaced. Every callback is still kept in the history, in sequence order.
"""

from __future__ import annotations

from dataclasses import dataclass

RANK: dict[str, int] = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "completed": 4,
    "busy": 4,
    "no-answer": 4,
    "failed": 4,
    "canceled": 4,
}
FINAL = frozenset(s for s, r in RANK.items() if r == 4)


class UnknownStatus(ValueError):
    """A ``CallStatus`` value Twilio does not document."""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    status: str
    sequence: int
    at: float


def should_apply(current: str, current_seq: int, new: str, new_seq: int) -> bool:
    """Whether a callback moves the call's status forward.

    Raises:
        UnknownStatus: ``new`` is not a Twilio call status.
    """
    if new not in RANK:
        raise UnknownStatus(new)
    if current in FINAL:
        return False
    new_rank, cur_rank = RANK[new], RANK.get(current, -1)
    if new_rank != cur_rank:
        return new_rank > cur_rank
    return new_seq > current_seq
