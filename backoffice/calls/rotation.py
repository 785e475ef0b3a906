"""Phone rotation: which of a contact's numbers to dial, in order.

Disconnected numbers are never dialled. Numbers that reached someone else
(``wrong_party``) go last: they may still be the only way to leave a message, but
never before a number that might reach the debtor. Among the rest, a number that keeps
failing (busy, no answer, failed) yields to the others, and a number given by a third
party comes after the debtor's own: so when the primary fails, the next attempt tries
an alternate.
"""

from __future__ import annotations

from collections.abc import Iterable

from backoffice.calls.models import PhoneInfo

_STATE_RANK = {"valid": 0, "wrong_party": 2}


def dial_order(phones: Iterable[PhoneInfo]) -> list[str]:
    ranked = [
        (_STATE_RANK[p.state], p.consecutive_failures, p.source == "third_party", index, p.number)
        for index, p in enumerate(phones)
        if p.state in _STATE_RANK
    ]
    ranked.sort()
    seen: set[str] = set()
    order = []
    for *_, number in ranked:
        if number not in seen:
            seen.add(number)
            order.append(number)
    return order


def third_party_number(phones: Iterable[PhoneInfo], number: str) -> bool:
    """Whether ``number`` was given by someone other than the debtor."""
    return any(p.number == number and p.source == "third_party" for p in phones)
