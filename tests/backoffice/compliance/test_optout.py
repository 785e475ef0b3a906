"""Opt-outs on the store, on SQLite and PostgreSQL: by contact, by number, undo, the
list, and the audit entry each leaves."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from backoffice.compliance import optout
from backoffice.compliance.audit_log import list_entries
from backoffice.errors import InvalidInput, NotFound
from backoffice.orgs.service import create_organization
from backoffice.store.db import Database
from backoffice.store.tables import contacts
from tests.backoffice.api_client import ES_ORG, US_ORG
from tests.backoffice.factories import make_contact, make_contact_phone


async def _state(db: Database, contact_id: str) -> Any:
    async with db.read() as conn:
        return (await conn.execute(select(contacts).where(contacts.c.id == contact_id))).one()


async def test_opting_out_a_contact_records_reason_time_actor_and_audit(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id, name="Ana")
    async with db.transaction() as conn:
        done = await optout.opt_out_contact(
            conn,
            org_id=org.id,
            contact_id=contact,
            reason="  asked by letter ",
            actor="api:ops",
            source="individual",
        )
    assert done.opted_out and done.reason == "asked by letter" and done.opted_out_by == "api:ops"
    row = await _state(db, contact)
    assert row.opted_out and row.opted_out_at is not None
    assert row.opted_out_at.tzinfo is not None
    async with db.read() as conn:
        entries, total = await list_entries(conn, org_id=org.id, entity_id=contact)
    assert total == 1
    assert entries[0].action == "contact.opt_out"
    assert entries[0].actor == "api:ops"
    assert entries[0].reason == "asked by letter"
    assert entries[0].detail == {"source": "individual"}


async def test_a_repeated_opt_out_keeps_the_first_and_is_audited_again(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id)
    for reason, source in (("first", "portal"), ("second", "agent")):
        async with db.transaction() as conn:
            await optout.opt_out_contact(
                conn, org_id=org.id, contact_id=contact, reason=reason, actor=source, source=source
            )
    row = await _state(db, contact)
    assert (row.opted_out_reason, row.opted_out_by) == ("first", "portal")
    async with db.read() as conn:
        entries, total = await list_entries(conn, org_id=org.id, entity_id=contact)
    assert total == 2
    assert entries[0].detail == {"source": "agent", "already_opted_out": True}


async def test_another_organizations_contact_cannot_be_opted_out(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    other = await create_organization(db, ES_ORG)
    theirs = await make_contact(db, other.id)
    async with db.transaction() as conn:
        with pytest.raises(NotFound):
            await optout.opt_out_contact(
                conn, org_id=org.id, contact_id=theirs, reason="x", actor="a", source="api"
            )
    assert not (await _state(db, theirs)).opted_out


@pytest.mark.parametrize(
    ("reason", "source", "field"),
    [("", "api", "reason"), ("x" * 501, "api", "reason"), ("ok", "fax", "source")],
)
async def test_a_bad_request_names_the_field(
    db: Database, reason: str, source: str, field: str
) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id)
    async with db.transaction() as conn:
        with pytest.raises(InvalidInput) as caught:
            await optout.opt_out_contact(
                conn, org_id=org.id, contact_id=contact, reason=reason, actor="a", source=source
            )
    assert [e.field for e in caught.value.errors] == [field]


async def test_numbers_match_phone_whatsapp_and_alternate_numbers(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    other = await create_organization(db, ES_ORG)
    by_phone = await make_contact(db, org.id, phone="+12125550100")
    by_whatsapp = await make_contact(db, org.id, whatsapp="+14155550199")
    by_alternate = await make_contact(db, org.id, phone="+13055550000")
    await make_contact_phone(db, org.id, by_alternate, "+16175550111", state="wrong_party")
    shares_number = await make_contact(db, org.id, phone="+12125550100")
    untouched = await make_contact(db, org.id, phone="+17185550122")
    foreign = await make_contact(db, other.id, phone="+12125550100")
    async with db.transaction() as conn:
        report = await optout.opt_out_phones(
            conn,
            org_id=org.id,
            region="US",
            phones=["(212) 555-0100", "+1 415 555 0199", "617.555.0111", "2025550143", "12"],
            reason="DNC request",
            actor="api:ops",
            source="bulk",
        )
    assert [(e.value, e.e164, set(e.contact_ids)) for e in report.matched] == [
        ("(212) 555-0100", "+12125550100", {by_phone, shares_number}),
        ("+1 415 555 0199", "+14155550199", {by_whatsapp}),
        ("617.555.0111", "+16175550111", {by_alternate}),
    ]
    assert [(e.value, e.e164) for e in report.not_found] == [("2025550143", "+12025550143")]
    assert [(e.value, e.reason) for e in report.invalid] == [("12", "not a possible number for US")]
    assert report.contacts_opted_out == 4
    for contact in (by_phone, by_whatsapp, by_alternate, shares_number):
        assert (await _state(db, contact)).opted_out
    for contact in (untouched, foreign):
        assert not (await _state(db, contact)).opted_out
    async with db.read() as conn:
        entries, _ = await list_entries(conn, org_id=org.id, entity_id=by_whatsapp)
    assert entries[0].detail == {"source": "bulk", "phone": "+14155550199"}


async def test_a_contact_reached_by_two_numbers_is_opted_out_and_audited_once(
    db: Database,
) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id, phone="+12125550100", whatsapp="+14155550199")
    async with db.transaction() as conn:
        report = await optout.opt_out_phones(
            conn,
            org_id=org.id,
            region="US",
            phones=["2125550100", "4155550199", "+12125550100"],
            reason="r",
            actor="a",
            source="bulk",
        )
        _, total = await list_entries(conn, org_id=org.id, entity_id=contact)
    assert len(report.matched) == 3
    assert report.contacts_opted_out == 1
    assert total == 1


async def test_one_number_from_the_agent(db: Database) -> None:
    org = await create_organization(db, ES_ORG)
    contact = await make_contact(db, org.id, phone="+34600123456")
    async with db.transaction() as conn:
        matched = await optout.opt_out_phone(
            conn,
            org_id=org.id,
            region=org.country,
            phone="600 12 34 56",
            reason="pidió no ser llamado",
            actor="agent:CA123",
            source="agent",
        )
        assert matched == [contact]
        assert (
            await optout.opt_out_phone(
                conn,
                org_id=org.id,
                region="ES",
                phone="+34 699 999 999",
                reason="r",
                actor="a",
                source="agent",
            )
            == []
        )
        with pytest.raises(InvalidInput) as caught:
            await optout.opt_out_phone(
                conn, org_id=org.id, region="ES", phone="abc", reason="r", actor="a", source="agent"
            )
    assert caught.value.errors[0].field == "phone"


async def test_undo_allows_contact_again_and_the_audit_keeps_the_opt_out(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id)
    async with db.transaction() as conn:
        await optout.opt_out_contact(
            conn, org_id=org.id, contact_id=contact, reason="asked", actor="portal", source="portal"
        )
    async with db.transaction() as conn:
        await optout.undo_opt_out(
            conn,
            org_id=org.id,
            contact_id=contact,
            actor="api:admin",
            reason="consented again in writing",
        )
    row = await _state(db, contact)
    assert not row.opted_out
    assert (row.opted_out_reason, row.opted_out_at, row.opted_out_by) == (None, None, None)
    async with db.read() as conn:
        entries, _ = await list_entries(conn, org_id=org.id, entity_id=contact)
    undo = entries[0]
    assert undo.action == "contact.opt_out_undo"
    assert undo.reason == "consented again in writing"
    assert undo.detail is not None
    assert undo.detail["opted_out_reason"] == "asked"
    assert undo.detail["opted_out_by"] == "portal"
    async with db.transaction() as conn:
        with pytest.raises(NotFound, match="opt-out"):
            await optout.undo_opt_out(conn, org_id=org.id, contact_id=contact, actor="a")


async def test_undo_of_another_organizations_opt_out_is_not_found(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    other = await create_organization(db, ES_ORG)
    theirs = await make_contact(db, other.id, opted_out=True, opted_out_reason="r")
    async with db.transaction() as conn:
        with pytest.raises(NotFound):
            await optout.undo_opt_out(conn, org_id=org.id, contact_id=theirs, actor="a")
    assert (await _state(db, theirs)).opted_out


async def test_the_list_is_paginated_latest_first_with_a_total(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    other = await create_organization(db, ES_ORG)
    ids = [await make_contact(db, org.id, name=f"C{n}") for n in range(5)]
    await make_contact(db, org.id, name="still allowed")
    await make_contact(db, other.id, opted_out=True)
    for contact in ids:
        async with db.transaction() as conn:
            await optout.opt_out_contact(
                conn, org_id=org.id, contact_id=contact, reason="r", actor="a", source="bulk"
            )
    async with db.read() as conn:
        first, total = await optout.list_opt_outs(conn, org_id=org.id, page=1, page_size=2)
        last, _ = await optout.list_opt_outs(conn, org_id=org.id, page=3, page_size=2)
        beyond, _ = await optout.list_opt_outs(conn, org_id=org.id, page=4, page_size=2)
    assert total == 5
    assert [o.name for o in first] == ["C4", "C3"]
    assert [o.name for o in last] == ["C0"]
    assert beyond == []
