"""The compliance report on SQLite and PostgreSQL: every interaction of the period,
inside or outside the contact's local hours, recorded or computed, and nothing of
another organization."""

from __future__ import annotations

import datetime as dt

import pytest

from backoffice.compliance.report import ReportSummary, period, report_rows
from backoffice.errors import InvalidInput
from backoffice.orgs.service import create_organization
from backoffice.store.db import Database
from tests.backoffice.api_client import ES_ORG, US_ORG
from tests.backoffice.factories import make_account, make_contact, make_interaction

UTC = dt.UTC
DAY = dt.date(2026, 6, 15)  # a Monday


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def test_the_report_judges_each_interaction_in_its_contacts_zone(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    other = await create_organization(db, ES_ORG)
    eastern = await make_contact(db, org.id, name="East", timezone="America/New_York")
    pacific = await make_contact(db, org.id, name="West", timezone="America/Los_Angeles")
    pacific_account = await make_account(db, org.id, pacific)
    opted = await make_contact(
        db,
        org.id,
        name="Opted",
        opted_out=True,
        opted_out_at=utc(2026, 6, 15, 13, 0),
        opted_out_reason="asked",
    )
    late_evening = utc(2026, 6, 16, 0, 30)  # Mon 20:30 EDT / 17:30 PDT: still Monday 15th
    morning = utc(2026, 6, 15, 14, 30)  # Mon 10:30 EDT / 07:30 PDT
    ids = {
        "east_evening": await make_interaction(
            db, org.id, contact_id=eastern, started_at=late_evening
        ),
        "west_morning": await make_interaction(db, org.id, contact_id=pacific, started_at=morning),
        "west_inbound": await make_interaction(
            db, org.id, contact_id=pacific, direction="inbound", started_at=morning
        ),
        "recorded": await make_interaction(
            db, org.id, contact_id=eastern, started_at=morning, within_allowed_hours=False
        ),
        "queued_sms": await make_interaction(
            db,
            org.id,
            contact_id=eastern,
            channel="sms",
            status="queued",
            started_at=None,
            created_at=utc(2026, 6, 15, 16, 0),
        ),
        "by_account": await make_interaction(
            db, org.id, account_id=pacific_account, started_at=morning
        ),
        "after_opt_out": await make_interaction(db, org.id, contact_id=opted, started_at=morning),
    }
    # Out of the period (Sunday 23:00 EDT) and another organization's: absent.
    await make_interaction(db, org.id, contact_id=eastern, started_at=utc(2026, 6, 15, 3, 0))
    theirs = await make_contact(db, other.id)
    await make_interaction(db, other.id, contact_id=theirs, started_at=morning)

    async with db.read() as conn:
        start, end = period(org, DAY, DAY)
        rows = {r.interaction_id: r async for r in report_rows(conn, org, start, end)}
    assert (start, end) == (utc(2026, 6, 15, 4, 0), utc(2026, 6, 16, 4, 0))
    assert set(rows) == set(ids.values())
    by_name = {name: rows[i] for name, i in ids.items()}

    assert by_name["east_evening"].within_allowed_hours
    assert by_name["east_evening"].local_time.strftime("%H:%M %Z") == "20:30 EDT"
    west = by_name["west_morning"]
    assert (west.within_allowed_hours, west.basis, west.timezone) == (
        False,
        "computed",
        "America/Los_Angeles",
    )
    assert west.breach
    assert not by_name["west_inbound"].within_allowed_hours
    assert not by_name["west_inbound"].breach  # the debtor called at that hour
    assert (by_name["recorded"].within_allowed_hours, by_name["recorded"].basis) == (
        False,
        "recorded",
    )
    assert by_name["queued_sms"].at == utc(2026, 6, 15, 16, 0)
    assert by_name["queued_sms"].within_allowed_hours
    assert by_name["by_account"].contact_id == pacific
    assert not by_name["by_account"].within_allowed_hours
    assert by_name["after_opt_out"].after_opt_out
    assert by_name["after_opt_out"].within_allowed_hours  # organization's zone: 10:30
    assert not by_name["east_evening"].after_opt_out

    summary = ReportSummary()
    for row in rows.values():
        summary.add(row)
    assert summary.total == 7
    assert summary.outside_allowed_hours == 4
    assert summary.outbound_outside_allowed_hours == 3
    assert summary.outbound_after_opt_out == 1
    assert summary.computed == 6
    assert summary.by_channel == {"call": 6, "sms": 1}


async def test_a_period_is_whole_local_days_and_must_be_in_order(db: Database) -> None:
    org = await create_organization(db, ES_ORG)  # Europe/Madrid
    assert period(org, dt.date(2026, 3, 29), dt.date(2026, 3, 29)) == (
        utc(2026, 3, 28, 23, 0),  # CET
        utc(2026, 3, 29, 22, 0),  # CEST: a 23-hour day
    )
    with pytest.raises(InvalidInput) as caught:
        period(org, DAY, DAY - dt.timedelta(days=1))
    assert caught.value.errors[0].field == "to"
    with pytest.raises(InvalidInput):
        period(org, DAY, DAY + dt.timedelta(days=400))
