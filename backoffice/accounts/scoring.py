"""The priority score: 0-100, higher = call first. Pure: no database, no clock.

Theory of operation
-------------------
Five factors each give a value between 0 and 1; the score is the sum of
``weight x value`` over the factors, rounded half up. The weights (:data:`WEIGHTS`)
add up to 100, so the score is 0-100 by construction, and the breakdown shows each
factor's points so an operator can see *why* an account is at the top.

- ``balance``: where the pending balance ranks among the organization's open
  accounts in the same currency (the mid-rank, 0 = smallest, 1 = largest). A rank,
  not an amount, because 1,000 means little in COP and much in EUR.
- ``days_past_due``: :data:`AGE_CURVE`, piecewise linear. Not yet due is worth
  nothing; value rises to its top at 90 days (early delinquency is when a call
  recovers most), holds to 180, then decays to 0.4 by two years (old debt still
  counts, but recovers less).
- ``promise_history``: kept vs broken promises, smoothed as ``(kept + 1) /
  (kept + broken + 2)`` so that no history is 0.5 and one broken promise is not
  damning. While a promise is pending (not yet due) the value is capped at
  :data:`PENDING_PROMISE_CAP`: the debtor has committed, calling adds little.
- ``contactability``: 0.75 for the share of known numbers that are valid (a
  wrong-party or disconnected number lowers it, no valid number gives 0) plus 0.25
  for an email address. Opted out gives 0.
- ``willingness``: the willingness to pay (1-5) of the latest interactions, newest
  weighted 3, then 2, then 1, mapped 1 -> 0 and 5 -> 1; no recent signal is 0.5.

Some accounts must not be called whatever the factors say: paid or closed, nothing
pending, or the contact opted out. Their score is 0, with ``blocked_by`` saying why;
the factors are still computed and shown.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

WEIGHTS: Mapping[str, int] = {
    "balance": 30,
    "days_past_due": 25,
    "promise_history": 15,
    "contactability": 15,
    "willingness": 15,
}
AGE_CURVE: Sequence[tuple[int, float]] = ((0, 0.0), (30, 0.6), (90, 1.0), (180, 1.0), (720, 0.4))
PENDING_PROMISE_CAP = 0.2
PHONE_SHARE, EMAIL_SHARE = 0.75, 0.25
WILLINGNESS_RECENCY = (3, 2, 1)
NOT_CALLABLE_STATUSES = frozenset({"paid", "closed"})


@dataclass(frozen=True, slots=True)
class ScoreInputs:
    """Everything the score looks at, gathered from the store by ``priority``."""

    status: str
    pending_balance: Decimal
    balance_rank: float  # mid-rank among the org's open accounts in this currency, 0-1
    days_past_due: int | None  # None: no due date
    promises_kept: int = 0
    promises_broken: int = 0
    promise_pending: bool = False
    opted_out: bool = False
    valid_numbers: int = 0
    bad_numbers: int = 0  # wrong-party or disconnected
    has_email: bool = False
    willingness: tuple[int, ...] = ()  # recent, newest first, each 1-5
    currency: str = ""  # of the balance, for the breakdown's text


@dataclass(frozen=True, slots=True)
class FactorScore:
    name: str
    weight: int
    value: float
    points: float
    detail: str


@dataclass(frozen=True, slots=True)
class Score:
    score: int
    factors: tuple[FactorScore, ...]
    blocked_by: str | None


def score(inputs: ScoreInputs, weights: Mapping[str, int] = WEIGHTS) -> Score:
    """The score of one account and its breakdown.

    Raises:
        ValueError: the weights do not name exactly the five factors or do not add up
            to 100.
    """
    if set(weights) != set(WEIGHTS) or sum(weights.values()) != 100:
        raise ValueError(f"weights must give {', '.join(WEIGHTS)} and add up to 100")
    values = {
        "balance": balance_value(inputs),
        "days_past_due": age_value(inputs.days_past_due),
        "promise_history": promise_value(inputs),
        "contactability": contactability_value(inputs),
        "willingness": willingness_value(inputs.willingness),
    }
    factors = tuple(
        FactorScore(
            name,
            weights[name],
            round(value, 3),
            round(weights[name] * value, 2),
            _detail(name, inputs),
        )
        for name, value in values.items()
    )
    total = sum(weights[name] * value for name, value in values.items())
    blocked = blocked_by(inputs)
    points = 0 if blocked else min(100, max(0, math.floor(total + 0.5)))
    return Score(points, factors, blocked)


def blocked_by(inputs: ScoreInputs) -> str | None:
    if inputs.status in NOT_CALLABLE_STATUSES:
        return f"status is {inputs.status}"
    if inputs.pending_balance <= 0:
        return "nothing pending"
    if inputs.opted_out:
        return "contact opted out"
    return None


def balance_value(inputs: ScoreInputs) -> float:
    if inputs.pending_balance <= 0:
        return 0.0
    return min(1.0, max(0.0, inputs.balance_rank))


def age_value(days: int | None, curve: Sequence[tuple[int, float]] = AGE_CURVE) -> float:
    if days is None or days <= curve[0][0]:
        return curve[0][1]
    for (x0, y0), (x1, y1) in pairwise(curve):
        if days <= x1:
            return y0 + (y1 - y0) * (days - x0) / (x1 - x0)
    return curve[-1][1]


def promise_value(inputs: ScoreInputs) -> float:
    value = (inputs.promises_kept + 1) / (inputs.promises_kept + inputs.promises_broken + 2)
    return min(value, PENDING_PROMISE_CAP) if inputs.promise_pending else value


def contactability_value(inputs: ScoreInputs) -> float:
    if inputs.opted_out:
        return 0.0
    known = inputs.valid_numbers + inputs.bad_numbers
    phone = inputs.valid_numbers / known if known and inputs.valid_numbers else 0.0
    return PHONE_SHARE * phone + (EMAIL_SHARE if inputs.has_email else 0.0)


def willingness_value(recent: Sequence[int]) -> float:
    used = [min(5, max(1, w)) for w in recent[: len(WILLINGNESS_RECENCY)]]
    if not used:
        return 0.5
    weights = WILLINGNESS_RECENCY[: len(used)]
    average = sum(w * x for w, x in zip(weights, used, strict=True)) / sum(weights)
    return (average - 1) / 4


def _detail(name: str, inputs: ScoreInputs) -> str:
    if name == "balance":
        pending = f"{inputs.pending_balance} {inputs.currency}".strip()
        return f"pending {pending}, rank {inputs.balance_rank:.2f} among open accounts"
    if name == "days_past_due":
        return "no due date" if inputs.days_past_due is None else f"{inputs.days_past_due} days"
    if name == "promise_history":
        pending = "; a promise is pending" if inputs.promise_pending else ""
        return f"{inputs.promises_kept} kept, {inputs.promises_broken} broken{pending}"
    if name == "contactability":
        if inputs.opted_out:
            return "opted out"
        email = "email" if inputs.has_email else "no email"
        return f"{inputs.valid_numbers} valid, {inputs.bad_numbers} bad numbers; {email}"
    if not inputs.willingness:
        return "no recent signal"
    return "recent: " + ", ".join(str(w) for w in inputs.willingness[:3])


def mid_rank(sorted_balances: Sequence[Decimal], balance: Decimal) -> float:
    """Where ``balance`` ranks in ``sorted_balances`` (ascending); see :func:`rank_of`."""
    below = bisect_left(sorted_balances, balance)
    equal = bisect_right(sorted_balances, balance) - below
    return rank_of(below, equal, len(sorted_balances))


def rank_of(below: int, equal: int, total: int) -> float:
    """The mid-rank ``(below + equal / 2) / total`` of a balance among ``total`` others.

    A lone account, or one among equals, ranks 0.5: no evidence it is bigger or
    smaller. A balance not itself among them (a paid account, say) is counted in as
    one more.
    """
    if equal == 0:
        return (below + 0.5) / (total + 1)
    return (below + equal / 2) / total
