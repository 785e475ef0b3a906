"""The one question every channel asks before it reaches a person: may we, now?

Calls, SMS, WhatsApp, email and the strategy engine all go through :func:`may_contact`
(or, when they already hold the facts, the pure :func:`decide`), so that a compliance
officer can point at one place and say "this is the rule". The answer is a
:class:`Decision`: allowed or not, a stable reason code, a sentence for a person that
names the contact's local time and zone, and when contact becomes allowed next.

Rules, in the order they are applied (the first that refuses gives the reason):

1. ``no_such_contact`` / ``no_such_account``: nothing in this organization to contact
   (another organization's records look the same as missing ones).
2. ``opted_out``: the contact asked not to be contacted; every channel, until an admin
   undoes it. Waiting does not help, so ``next_allowed_at`` is None.
3. ``account_status``: the account's status forbids automated contact
   (:data:`ACCOUNT_STATUS_RULES`). ``next_allowed_at`` is None as well.
4. ``day_not_allowed``: the contact's local date is not one of the organization's days.
5. ``outside_hours``: the contact's local time is outside the organization's hours.

Hours and days are read in the contact's time zone, or the organization's when the
contact has none (or one that is not an IANA name). See :mod:`.window` for how
daylight-saving changes are handled. Inbound contact (the debtor calls us, opens the
portal) is not governed by this check: the person chose the moment.
"""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.compliance import dnc_list
from backoffice.compliance.window import ContactWindow, first_instant
from backoffice.orgs.models import Organization
from backoffice.orgs.service import get_organization
from backoffice.store.tables import accounts, call_sessions, contacts

CHANNELS = ("call", "sms", "whatsapp", "email")
"""Every outbound channel. All share the same rules today; naming the channel keeps the
decision explainable and leaves room for a per-channel rule in one place."""


class Reason(enum.StrEnum):
    """Stable codes: clients, logs and reports match on these, never on the message."""

    ALLOWED = "allowed"
    NO_SUCH_CONTACT = "no_such_contact"
    NO_SUCH_ACCOUNT = "no_such_account"
    OPTED_OUT = "opted_out"
    DNC_LISTED = "dnc_listed"
    ACCOUNT_STATUS = "account_status"
    DAY_NOT_ALLOWED = "day_not_allowed"
    OUTSIDE_HOURS = "outside_hours"
    INBOUND_TODAY = "inbound_today"


@dataclass(frozen=True, slots=True)
class StatusRule:
    automated_contact: bool
    why: str


ACCOUNT_STATUS_RULES: dict[str, StatusRule] = {
    "new": StatusRule(True, "loaded and not yet worked"),
    "pending_contact": StatusRule(True, "waiting for a first contact"),
    "auto_management": StatusRule(True, "worked by the automated strategy"),
    "active_conversation": StatusRule(True, "a conversation is under way"),
    "promise_active": StatusRule(True, "reminders of a promise to pay are expected"),
    "promise_overdue": StatusRule(True, "a promise to pay was missed"),
    "paid": StatusRule(False, "the debt is paid, so there is nothing left to collect"),
    "closed": StatusRule(False, "the account is closed"),
    "paused": StatusRule(False, "an operator paused contact on this account"),
    "in_review": StatusRule(
        False, "the account is under review (e.g. a dispute): collection waits for the outcome"
    ),
    "escalated": StatusRule(
        False, "the account was handed to a person or to legal: automated channels stay out"
    ),
}
"""Which account statuses allow automated contact, and why. A status missing from this
table is refused (fail closed), and a test keeps it in step with ``ACCOUNT_STATUSES``."""

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer of the compliance check.

    Attributes:
        allowed: whether contact may happen at ``at``.
        reason: a :class:`Reason` code (``allowed`` when it may).
        message: one sentence for a person, naming the contact's local time and zone.
        channel: the channel that asked.
        at: the instant checked (UTC).
        local_time: ``at`` on the contact's wall clock (None without a contact).
        timezone: the IANA zone the rules were read in.
        timezone_source: ``contact`` or ``organization`` (whose zone that is).
        next_allowed_at: the first instant (UTC) at or after ``at`` when contact is
            allowed; ``at`` itself when allowed now; None when waiting will not help
            (opted out, account status, no such contact, a window that never opens).
        allowed_until: when allowed, the instant (UTC) the current window closes.
        account_status: the status of the account checked, if one was given.
    """

    allowed: bool
    reason: Reason
    message: str
    channel: str
    at: dt.datetime
    local_time: dt.datetime | None = None
    timezone: str | None = None
    timezone_source: str | None = None
    next_allowed_at: dt.datetime | None = None
    allowed_until: dt.datetime | None = None
    account_status: str | None = None


def contact_zone(org: Organization, contact_tz: str | None) -> tuple[zoneinfo.ZoneInfo, str]:
    """The zone whose clock governs a contact, and whose it is (contact, organization)."""
    if contact_tz:
        try:
            return zoneinfo.ZoneInfo(contact_tz), "contact"
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass  # an unknown name is treated like a missing one
    return org.zone, "organization"


def window_for(org: Organization, zone: zoneinfo.ZoneInfo) -> ContactWindow:
    return ContactWindow(org.contact_hours_start, org.contact_hours_end, org.contact_days, zone)


def decide(
    org: Organization,
    *,
    contact_tz: str | None,
    opted_out: bool,
    account_status: str | None = None,
    channel: str,
    at: dt.datetime,
) -> Decision:
    """The compliance decision from facts already in hand; no I/O, no clock.

    Args:
        org: the organization whose hours and days apply.
        contact_tz: the contact's IANA zone, or None to use the organization's.
        opted_out: whether the contact has opted out.
        account_status: the account's status, or None when no account is concerned.
        channel: one of :data:`CHANNELS`.
        at: the moment of the intended contact, timezone-aware.

    Raises:
        ValueError: ``at`` is naive or ``channel`` unknown (a caller's bug).
    """
    at = _checked(channel, at)
    zone, source = contact_zone(org, contact_tz)
    window = window_for(org, zone)
    local = window.local(at)
    now_text = f"it is {_when(local, zone)} for the contact"
    hours = f"{org.contact_hours_start:%H:%M}-{org.contact_hours_end:%H:%M}"

    def answer(reason: Reason, message: str, **extra: dt.datetime | None) -> Decision:
        return Decision(
            allowed=reason is Reason.ALLOWED,
            reason=reason,
            message=message,
            channel=channel,
            at=at,
            local_time=local,
            timezone=zone.key,
            timezone_source=source,
            account_status=account_status,
            **extra,
        )

    if opted_out:
        return answer(
            Reason.OPTED_OUT,
            f"The contact has opted out of all contact ({now_text}); no channel may reach "
            "them unless an admin undoes the opt-out.",
        )
    if account_status is not None:
        rule = ACCOUNT_STATUS_RULES.get(account_status)
        if rule is None or not rule.automated_contact:
            why = rule.why if rule else "this status is unknown to the compliance rules"
            return answer(
                Reason.ACCOUNT_STATUS,
                f"The account is {account_status}: {why}; no automated contact ({now_text}).",
            )
    current = window.current(at)
    if current is not None:
        return answer(
            Reason.ALLOWED,
            f"Allowed: {now_text}, within the allowed hours {hours}; the window closes at "
            f"{current[1].astimezone(zone):%H:%M %Z}.",
            next_allowed_at=at,
            allowed_until=current[1],
        )
    upcoming = window.next_open(at)
    then = (
        f"next allowed {_when(upcoming.astimezone(zone), zone)}"
        if upcoming
        else ("no day and time is allowed at all")
    )
    if not window.day_allowed(at):
        return answer(
            Reason.DAY_NOT_ALLOWED,
            f"{_DAY_NAMES[local.weekday()]} is not an allowed contact day: {now_text}; {then}.",
            next_allowed_at=upcoming,
        )
    return answer(
        Reason.OUTSIDE_HOURS,
        f"Outside the allowed hours {hours}: {now_text}; {then}.",
        next_allowed_at=upcoming,
    )


async def may_contact(
    conn: AsyncConnection,
    *,
    org_id: str,
    contact_id: str,
    account_id: str | None = None,
    channel: str,
    at: dt.datetime,
) -> Decision:
    """May ``channel`` reach this contact (about this account) at ``at``?

    Reads the contact (opt-out, zone), the account (status) and the organization's
    rules on ``conn``, all scoped to ``org_id``, then applies :func:`decide`. A record
    of another organization is reported exactly like a missing one.

    Raises:
        ValueError: ``at`` is naive or ``channel`` unknown.
        NotFound: the organization itself does not exist.
    """
    at = _checked(channel, at)
    org = await get_organization(conn, org_id)
    contact = (
        await conn.execute(
            select(contacts.c.timezone, contacts.c.opted_out).where(
                contacts.c.id == contact_id, contacts.c.org_id == org_id
            )
        )
    ).first()
    if contact is None:
        return Decision(
            False, Reason.NO_SUCH_CONTACT, "No such contact in this organization.", channel, at
        )
    status: str | None = None
    if account_id is not None:
        status = (
            await conn.execute(
                select(accounts.c.status).where(
                    accounts.c.id == account_id,
                    accounts.c.org_id == org_id,
                    accounts.c.contact_id == contact_id,
                )
            )
        ).scalar()
        if status is None:
            return Decision(
                False,
                Reason.NO_SUCH_ACCOUNT,
                "No such account for this contact in this organization.",
                channel,
                at,
            )
    decision = decide(
        org,
        contact_tz=contact.timezone,
        opted_out=bool(contact.opted_out),
        account_status=status,
        channel=channel,
        at=at,
    )
    if decision.allowed and channel == "call" and account_id is not None:
        decision = await after_inbound_call(conn, org, decision, account_ref=account_id)
    if decision.reason is Reason.OPTED_OUT or channel not in dnc_list.PHONE_CHANNELS:
        return decision
    listed = await dnc_list.listed_numbers(conn, org_id=org_id, contact_id=contact_id)
    if not listed:
        return decision
    return replace(
        decision,
        allowed=False,
        reason=Reason.DNC_LISTED,
        message=f"{', '.join(listed)} is on the organization's do-not-contact list.",
        next_allowed_at=None,
        allowed_until=None,
    )


def _checked(channel: str, at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be timezone-aware (UTC)")
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    return at.astimezone(dt.UTC)


def _when(local: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """``Monday 2026-03-09 08:00 EDT (America/New_York)``: unambiguous for a reader."""
    return f"{_DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} {local.tzname()} ({zone.key})"


async def after_inbound_call(
    conn: AsyncConnection, org: Organization, decision: Decision, *, account_ref: str
) -> Decision:
    """Refuse an outbound call to an account whose debtor called in today.

    The debtor already spoke to us today (their own day, in their zone): calling them
    back unasked the same day is pressure, not service. A callback they asked for is
    scheduled separately and is not an automated attempt.
    """
    zone = zoneinfo.ZoneInfo(decision.timezone) if decision.timezone else org.zone
    local = decision.at.astimezone(zone)
    midnight = first_instant(local.date(), dt.time(0, 0), zone)
    tomorrow = first_instant(local.date() + dt.timedelta(days=1), dt.time(0, 0), zone)
    called_in = (
        await conn.execute(
            select(call_sessions.c.id)
            .where(
                call_sessions.c.org_id == org.id,
                call_sessions.c.account_ref == account_ref,
                call_sessions.c.direction == "inbound",
                call_sessions.c.created_at >= midnight,
                call_sessions.c.created_at < tomorrow,
            )
            .limit(1)
        )
    ).first()
    if called_in is None:
        return decision
    upcoming = window_for(org, zone).next_open(tomorrow)
    return replace(
        decision,
        allowed=False,
        reason=Reason.INBOUND_TODAY,
        message=(
            "The debtor called in today; no outbound call to this account until tomorrow "
            f"in their zone ({zone.key})."
        ),
        next_allowed_at=upcoming,
        allowed_until=None,
    )
