"""The compliance report: every interaction of a period, and whether it respected the
contact-hours rules and the contact's opt-out.

It is what a compliance officer hands over to show that nobody was reached outside
their local allowed hours or after opting out. For each interaction:

- its time is ``started_at``, or ``created_at`` for one that never started (a queued
  message), so that no interaction of the period is left out;
- ``within_allowed_hours`` is the value recorded when it happened (``basis``
  ``recorded``) or, when none was recorded, computed now from that time, the
  contact's zone (else the organization's) and the organization's current hours and
  days (``basis`` ``computed``: rules changed since then are not known);
- ``after_opt_out`` says the contact was opted out before that time (from the
  contact's present opt-out; an undone one lives only in the audit log).

Outbound interactions are the ones a breach is made of; inbound ones (the debtor
called or wrote first) are listed but not counted against the organization.

The period is whole days in the organization's zone, both ends included. Rows come
from a streamed query, so a period of any length is read in constant memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.compliance.check import contact_zone, window_for
from backoffice.compliance.window import ContactWindow, first_instant
from backoffice.errors import FieldError, InvalidInput
from backoffice.orgs.models import Organization
from backoffice.store.tables import accounts, contacts, interactions

MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class ReportRow:
    interaction_id: str
    at: dt.datetime
    local_time: dt.datetime
    timezone: str
    channel: str
    direction: str
    status: str
    contact_id: str | None
    contact_name: str | None
    account_id: str | None
    within_allowed_hours: bool
    basis: str
    after_opt_out: bool

    @property
    def breach(self) -> bool:
        """An outbound interaction outside the hours or after an opt-out."""
        return self.direction == "outbound" and (
            not self.within_allowed_hours or self.after_opt_out
        )


@dataclass(slots=True)
class ReportSummary:
    """Counts over every row of the period (not only one page of it)."""

    total: int = 0
    within_allowed_hours: int = 0
    outside_allowed_hours: int = 0
    outbound_outside_allowed_hours: int = 0
    outbound_after_opt_out: int = 0
    computed: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)

    def add(self, row: ReportRow) -> None:
        self.total += 1
        if row.within_allowed_hours:
            self.within_allowed_hours += 1
        else:
            self.outside_allowed_hours += 1
            if row.direction == "outbound":
                self.outbound_outside_allowed_hours += 1
        if row.after_opt_out and row.direction == "outbound":
            self.outbound_after_opt_out += 1
        if row.basis == "computed":
            self.computed += 1
        self.by_channel[row.channel] = self.by_channel.get(row.channel, 0) + 1


def period(org: Organization, first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` in UTC covering local days ``first`` to ``last`` (included).

    Raises:
        InvalidInput: ``last`` before ``first``, or more than :data:`MAX_DAYS` days.
    """
    if last < first:
        raise InvalidInput([FieldError("to", "must not be before from")], "invalid period")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput([FieldError("to", f"a period is at most {MAX_DAYS} days")])
    midnight = dt.time(0, 0)
    return (
        first_instant(first, midnight, org.zone),
        first_instant(last + dt.timedelta(days=1), midnight, org.zone),
    )


async def report_rows(
    conn: AsyncConnection, org: Organization, start: dt.datetime, end: dt.datetime
) -> AsyncIterator[ReportRow]:
    """The organization's interactions with a time in ``[start, end)``, oldest first."""
    i, a, c = interactions.c, accounts.c, contacts.c
    when = func.coalesce(i.started_at, i.created_at)
    query = (
        select(
            i.id,
            when.label("at"),
            i.channel,
            i.direction,
            i.status,
            i.account_id,
            i.within_allowed_hours,
            c.id.label("contact_id"),
            c.name,
            c.timezone,
            c.opted_out,
            c.opted_out_at,
        )
        .select_from(
            interactions.outerjoin(
                accounts, and_(a.id == i.account_id, a.org_id == org.id)
            ).outerjoin(
                contacts,
                and_(c.id == func.coalesce(i.contact_id, a.contact_id), c.org_id == org.id),
            )
        )
        .where(
            i.org_id == org.id,
            or_(
                and_(i.started_at >= start, i.started_at < end),
                and_(i.started_at.is_(None), i.created_at >= start, i.created_at < end),
            ),
        )
        .order_by(when, i.id)
    )
    windows: dict[str, ContactWindow] = {}
    result = await conn.stream(query)
    async for row in result:
        window = _window(windows, org, row.timezone)
        zone = window.zone
        recorded = row.within_allowed_hours
        yield ReportRow(
            interaction_id=row.id,
            at=row.at,
            local_time=row.at.astimezone(zone),
            timezone=zone.key,
            channel=row.channel,
            direction=row.direction,
            status=row.status,
            contact_id=row.contact_id,
            contact_name=row.name,
            account_id=row.account_id,
            within_allowed_hours=bool(recorded)
            if recorded is not None
            else window.contains(row.at),
            basis="recorded" if recorded is not None else "computed",
            after_opt_out=bool(row.opted_out)
            and row.opted_out_at is not None
            and row.opted_out_at <= row.at,
        )


def _window(
    cache: dict[str, ContactWindow], org: Organization, contact_tz: str | None
) -> ContactWindow:
    key = contact_tz or ""
    if key not in cache:
        cache[key] = window_for(org, contact_zone(org, contact_tz)[0])
    return cache[key]
