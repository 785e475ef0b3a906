"""The one compliance function on the store, on SQLite and PostgreSQL: a US
organization with Eastern and Pacific contacts, opt-outs and account statuses."""

from __future__ import annotations

import datetime as dt

import pytest

from backoffice.compliance.check import Reason, may_contact
from backoffice.compliance.optout import opt_out_contact, undo_opt_out
from backoffice.orgs.service import create_organization
from backoffice.store.db import Database
from tests.backoffice.api_client import ES_ORG, US_ORG
from tests.backoffice.factories import make_account, make_contact

UTC = dt.UTC
MONDAY_1030_ET = dt.datetime(2026, 6, 15, 14, 30, tzinfo=UTC)  # 07:30 in Los Angeles
MONDAY_2030_ET = dt.datetime(2026, 6, 16, 0, 30, tzinfo=UTC)  # 17:30 in Los Angeles


async def test_eastern_and_pacific_contacts_are_read_in_their_own_zones(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    eastern = await make_contact(db, org.id, timezone="America/New_York")
    pacific = await make_contact(db, org.id, timezone="America/Los_Angeles")
    unzoned = await make_contact(db, org.id)
    async with db.read() as conn:

        async def ask(contact_id: str, at: dt.datetime) -> Reason:
            decision = await may_contact(
                conn, org_id=org.id, contact_id=contact_id, channel="call", at=at
            )
            return decision.reason

        assert await ask(eastern, MONDAY_2030_ET) is Reason.ALLOWED
        assert await ask(pacific, MONDAY_2030_ET) is Reason.ALLOWED
        assert await ask(eastern, MONDAY_1030_ET) is Reason.ALLOWED
        assert await ask(pacific, MONDAY_1030_ET) is Reason.OUTSIDE_HOURS
        assert await ask(unzoned, MONDAY_1030_ET) is Reason.ALLOWED  # organization: New York
        pacific_decision = await may_contact(
            conn, org_id=org.id, contact_id=pacific, channel="sms", at=MONDAY_1030_ET
        )
    assert pacific_decision.next_allowed_at == dt.datetime(2026, 6, 15, 15, 0, tzinfo=UTC)
    assert pacific_decision.timezone == "America/Los_Angeles"


async def test_an_opt_out_is_effective_at_once_on_every_channel_and_undo_restores(
    db: Database,
) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id, timezone="America/New_York")
    async with db.transaction() as conn:
        await opt_out_contact(
            conn,
            org_id=org.id,
            contact_id=contact,
            reason="asked on the phone",
            actor="agent:CA1",
            source="agent",
        )
    async with db.read() as conn:
        for channel in ("call", "sms", "whatsapp", "email"):
            decision = await may_contact(
                conn, org_id=org.id, contact_id=contact, channel=channel, at=MONDAY_1030_ET
            )
            assert decision.reason is Reason.OPTED_OUT
    async with db.transaction() as conn:
        await undo_opt_out(conn, org_id=org.id, contact_id=contact, actor="api:admin")
    async with db.read() as conn:
        decision = await may_contact(
            conn, org_id=org.id, contact_id=contact, channel="call", at=MONDAY_1030_ET
        )
    assert decision.allowed


@pytest.mark.parametrize(("status", "allowed"), [("promise_active", True), ("paid", False)])
async def test_the_accounts_status_is_consulted(db: Database, status: str, allowed: bool) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id)
    account = await make_account(db, org.id, contact, status=status)
    async with db.read() as conn:
        decision = await may_contact(
            conn,
            org_id=org.id,
            contact_id=contact,
            account_id=account,
            channel="whatsapp",
            at=MONDAY_1030_ET,
        )
    assert decision.allowed is allowed
    assert decision.account_status == status
    assert decision.reason is (Reason.ALLOWED if allowed else Reason.ACCOUNT_STATUS)


async def test_another_organizations_records_are_as_if_missing(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    other = await create_organization(db, ES_ORG)
    mine = await make_contact(db, org.id)
    someone_else = await make_contact(db, org.id)
    theirs = await make_contact(db, other.id)
    their_account = await make_account(db, other.id, theirs)
    other_contacts_account = await make_account(db, org.id, someone_else)
    async with db.read() as conn:

        async def ask(contact_id: str, account_id: str | None = None) -> Reason:
            decision = await may_contact(
                conn,
                org_id=org.id,
                contact_id=contact_id,
                account_id=account_id,
                channel="call",
                at=MONDAY_1030_ET,
            )
            assert not decision.allowed or decision.reason is Reason.ALLOWED
            return decision.reason

        assert await ask(theirs) is Reason.NO_SUCH_CONTACT
        assert await ask("0" * 32) is Reason.NO_SUCH_CONTACT
        assert await ask(mine, their_account) is Reason.NO_SUCH_ACCOUNT
        assert await ask(mine, other_contacts_account) is Reason.NO_SUCH_ACCOUNT
        assert await ask(mine) is Reason.ALLOWED
