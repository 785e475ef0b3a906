"""The rules an agent's request must pass, as pure functions (no I/O, no clock).

Both backoffices apply the same rules, so a debtor hears the same refusal whichever
system keeps the account. Each refusal names a stable ``reason`` and says, in a
sentence the agent can rephrase, what would be acceptable instead.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from backoffice.calls.models import ActionResult
from backoffice.calls.policy import CallPolicy
from backoffice.compliance.check import contact_zone, window_for
from backoffice.orgs.models import Organization

CENT = Decimal("0.01")


def minimum_promise(policy: CallPolicy, balance: Decimal) -> Decimal:
    """The smallest acceptable promise: the larger of the absolute and relative minima,
    never more than the balance itself."""
    relative = (balance * policy.promise_min_percent / 100).quantize(CENT)
    return min(balance, max(policy.promise_min_amount, relative))


def check_promise(
    policy: CallPolicy,
    *,
    balance: Decimal,
    currency: str,
    amount: Decimal,
    due_date: dt.date,
    today: dt.date,
) -> ActionResult | None:
    """None when the promise is acceptable, else the refusal to give the caller."""
    latest = today + dt.timedelta(days=policy.promise_max_days)
    if amount <= 0:
        return ActionResult.refused(
            "amount_not_positive", "The amount must be more than zero. Ask for the amount."
        )
    if due_date < today:
        return ActionResult.refused(
            "date_in_past",
            f"The date {due_date.isoformat()} is in the past. Ask for a date from today "
            f"({today.isoformat()}) to {latest.isoformat()}.",
            earliest=today.isoformat(),
            latest=latest.isoformat(),
        )
    if due_date > latest:
        return ActionResult.refused(
            "date_beyond_limit",
            f"The date {due_date.isoformat()} is too far away: the latest date that can be "
            f"accepted is {latest.isoformat()} ({policy.promise_max_days} days from today).",
            latest=latest.isoformat(),
        )
    if amount > balance:
        return ActionResult.refused(
            "above_balance",
            f"{amount} {currency} is more than the pending balance of {balance} {currency}. "
            f"The most that can be promised is {balance} {currency}.",
            maximum=str(balance),
        )
    minimum = minimum_promise(policy, balance)
    if amount < minimum:
        return ActionResult.refused(
            "below_minimum",
            f"{amount} {currency} is below the minimum payment of {minimum} {currency}. "
            f"Ask whether the caller can pay at least {minimum} {currency}.",
            minimum=str(minimum),
        )
    return None


def fit_callback(
    org: Organization, contact_tz: str | None, requested: dt.datetime, now: dt.datetime
) -> tuple[dt.datetime, bool, zoneinfo.ZoneInfo]:
    """The callback instant: ``requested`` if the contact may be called then, else the
    next allowed moment after it. Returns ``(when, moved, zone)``.

    A request in the past means "as soon as allowed", from ``now``.
    """
    zone, _ = contact_zone(org, contact_tz)
    window = window_for(org, zone)
    at = max(requested, now)
    if window.contains(at):
        return at, at != requested, zone
    upcoming = window.next_open(at)
    if upcoming is None:  # no day allowed at all: keep the request; compliance decides
        return at, at != requested, zone
    return upcoming, True, zone


def callback_words(at: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """How a callback time is confirmed to the agent: on the debtor's clock, zone named."""
    return f"{at.astimezone(zone):%A %d %B %Y at %H:%M} ({zone.key})"


def local_request(text: str, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """An ISO date-time as the debtor said it: naive means the debtor's own clock.

    Raises:
        ValueError: not an ISO 8601 date-time.
    """
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(dt.UTC)
