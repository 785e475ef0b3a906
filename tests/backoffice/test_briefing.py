"""What the agent is told before it speaks: facts in the call's language, continuity."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from backoffice.calls.briefing import continuity_notes, facts
from backoffice.calls.models import CallSubject
from backoffice.calls.policy import CallPolicy
from backoffice.calls.sessions import open_session, update_session
from backoffice.orgs.service import create_organization, get_organization
from backoffice.store.db import Database
from backoffice.store.tables import callback_requests, tool_calls
from tests.backoffice.api_client import ES_ORG
from tests.backoffice.factories import make_account, make_contact, make_interaction

NOW = dt.datetime(2026, 11, 18, 14, 0, tzinfo=dt.UTC)


def subject(**overrides: Any) -> CallSubject:
    values: dict[str, Any] = {
        "account_ref": "acc",
        "contact_id": "c",
        "contact_name": "Ana María López",
        "language": "es",
        "timezone": "Europe/Madrid",
        "phones": (),
        "pending_balance": Decimal("1250.50"),
        "total_amount": Decimal("1500.00"),
        "currency": "EUR",
        "due_date": dt.date(2026, 11, 30),
        "status": "pending_contact",
        "reference": "R-9",
    }
    values.update(overrides)
    return CallSubject(**values)


async def test_amounts_and_dates_are_formatted_for_the_calls_language(db: Database) -> None:
    org = await create_organization(db, ES_ORG)
    spanish = facts(org, subject(), "es-ES")
    assert spanish["debtor_first_name"] == "Ana"
    assert spanish["pending_balance"] == "1.250,50\xa0€"
    assert spanish["due_date"] == "30 de noviembre de 2026"
    assert spanish["currency_name"] == "euro"
    english = facts(org, subject(currency="USD"), "en-US")
    assert english["pending_balance"] == "$1,250.50"
    assert english["due_date"] == "November 30, 2026"
    assert english["org_name"] == "Cobros Ibérica"


async def _account(db: Database) -> tuple[str, str]:
    org = await create_organization(db, ES_ORG)
    contact = await make_contact(db, org.id, phone="+34600000001")
    return org.id, await make_account(db, org.id, contact)


async def notes_for(db: Database, org_id: str, account: str, **kwargs: bool) -> list[str]:
    async with db.read() as conn:
        org = await get_organization(conn, org_id)
        return await continuity_notes(
            conn, org=org, policy=CallPolicy(), account_ref=account, at=NOW, **kwargs
        )


async def test_a_fresh_account_has_no_notes(db: Database) -> None:
    org_id, account = await _account(db)
    assert await notes_for(db, org_id, account) == []


async def test_a_number_from_a_third_party_means_a_first_contact(db: Database) -> None:
    org_id, account = await _account(db)
    [note] = await notes_for(db, org_id, account, third_party_number=True)
    assert "third party" in note and "first contact" in note


async def test_a_dropped_call_minutes_ago_is_mentioned(db: Database) -> None:
    org_id, account = await _account(db)
    await open_session(
        db, org_id=org_id, call_sid="CA" + "2" * 32, direction="outbound", account_ref=account
    )
    await update_session(
        db,
        "CA" + "2" * 32,
        ended_at=NOW - dt.timedelta(minutes=4),
        end_reason="caller_hung_up",
    )
    [note] = await notes_for(db, org_id, account)
    assert "4 minute(s) ago" in note and "cut off" in note


async def test_a_call_that_reached_an_outcome_is_not_a_dropped_call(db: Database) -> None:
    org_id, account = await _account(db)
    sid = "CA" + "3" * 32
    await open_session(db, org_id=org_id, call_sid=sid, direction="outbound", account_ref=account)
    await update_session(
        db, sid, ended_at=NOW - dt.timedelta(minutes=4), end_reason="caller_hung_up"
    )
    async with db.transaction() as conn:
        await conn.execute(
            tool_calls.insert().values(
                id="t" * 32,
                org_id=org_id,
                call_sid=sid,
                tool_call_id="x",
                tool="register_promise",
                parameters={},
                status="done",
                created_at=NOW,
            )
        )
    assert await notes_for(db, org_id, account) == []
    old = "CA" + "4" * 32  # and a drop an hour ago is old news
    await open_session(db, org_id=org_id, call_sid=old, direction="outbound", account_ref=account)
    await update_session(db, old, ended_at=NOW - dt.timedelta(hours=1), end_reason="agent_failed")
    assert await notes_for(db, org_id, account) == []


async def test_the_callback_the_debtor_asked_for_is_recognised(db: Database) -> None:
    org_id, account = await _account(db)
    async with db.transaction() as conn:
        await conn.execute(
            callback_requests.insert().values(
                id="c" * 32,
                org_id=org_id,
                account_id=account,
                scheduled_for=NOW + dt.timedelta(minutes=30),
                status="pending",
                source="agent",
                created_at=NOW - dt.timedelta(days=1),
            )
        )
    [note] = await notes_for(db, org_id, account)
    assert "callback the debtor asked for" in note


async def test_messages_sent_and_received_recently_are_mentioned(db: Database) -> None:
    org_id, account = await _account(db)
    await make_interaction(
        db,
        org_id,
        account_id=account,
        channel="whatsapp",
        direction="outbound",
        summary="debt summary",
        created_at=NOW - dt.timedelta(days=1),
    )
    await make_interaction(
        db,
        org_id,
        account_id=account,
        channel="email",
        direction="inbound",
        created_at=NOW - dt.timedelta(hours=3),
    )
    await make_interaction(
        db,
        org_id,
        account_id=account,
        channel="sms",
        direction="outbound",
        created_at=NOW - dt.timedelta(days=20),
    )
    notes = await notes_for(db, org_id, account)
    assert len(notes) == 2
    assert notes[0].startswith("The debtor wrote to us by email")
    assert "whatsapp message" in notes[1] and "debt summary" in notes[1]
