"""The pending-balance rule: how an account's debt items add up. Pure.

Theory of operation
-------------------
An account arrives (by import or API) with a pending balance. As long as it has no
debt items, that imported balance is the truth and nothing recomputes it.

Once it has debt items, they are its ledger and the pending balance is always::

    pending = capital + interest + fees (not cancelled) - payments (applied)

Charges count unless cancelled (a *pending* charge is still owed); a payment counts
only once *applied* (a pending payment is money announced, not received). Amounts
are positive; the kind says which way they count. The result may go below zero (an
overpayment is a credit the debtor is owed back); it is not clamped.

So that the ledger always explains the number, the first item added to an account
that has none, when it is not itself a capital item, is preceded by an "opening
balance" capital item for the balance standing at that moment: a payment of 100 on
an imported balance of 1,000 then leaves 900, not -100. A first item of kind capital
means the operator is itemising the debt, and the ledger starts from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

KINDS = ("capital", "interest", "fees", "payment")
STATES = ("pending", "applied", "cancelled")
CHARGES = frozenset({"capital", "interest", "fees"})
OPENING_BALANCE = "opening balance"
CENT = Decimal("0.01")


def ledger_balance(items: Iterable[tuple[str, Decimal, str]]) -> Decimal | None:
    """The pending balance from ``(kind, amount, state)`` items; None when there are none."""
    total, seen = Decimal("0.00"), False
    for kind, amount, state in items:
        seen = True
        if kind in CHARGES and state != "cancelled":
            total += amount
        elif kind == "payment" and state == "applied":
            total -= amount
    return total.quantize(CENT) if seen else None


def needs_opening_balance(has_items: bool, new_kind: str, standing: Decimal) -> bool:
    """Whether adding ``new_kind`` must first book ``standing`` as an opening balance."""
    return not has_items and new_kind != "capital" and standing > 0
