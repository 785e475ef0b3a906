"""Planning an outbound call: the right account, the contact's own number, compliance."""

from __future__ import annotations

import datetime as dt

import pytest

from backoffice.call_planning import plan_outbound_call
from backoffice.calls.sessions import open_session
from backoffice.compliance.check import Reason
from backoffice.errors import InvalidInput, NotFound
from backoffice.orgs.service import create_organization
from backoffice.store.db import Database
from tests.backoffice.api_client import ES_ORG, US_ORG
from tests.backoffice.factories import make_account, make_contact, make_contact_phone

WEDNESDAY_3PM_NY = dt.datetime(2026, 11, 18, 20, 0, tzinfo=dt.UTC)
WEDNESDAY_11PM_NY = dt.datetime(2026, 11, 19, 4, 0, tzinfo=dt.UTC)


async def test_a_call_to_an_account_resolves_number_language_and_greeting(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(
        db, org.id, name="Ann Smith", phone="+12125550100", language="es-MX"
    )
    await make_contact_phone(db, org.id, contact, "+12125550101", source="import")
    account = await make_account(db, org.id, contact, external_id="ACC-9")
    plan = await plan_outbound_call(
        db, org_id=org.id, account="ACC-9", to=None, language=None, at=WEDNESDAY_3PM_NY
    )
    assert plan.allowed
    assert plan.account_id == account
    assert plan.to == "+12125550100"
    assert plan.language == "es-MX"
    assert plan.variables == {"debtor_first_name": "Ann", "org_name": "Acme Collections"}
    alternate = await plan_outbound_call(
        db, org_id=org.id, account=account, to="+12125550101", language="en", at=WEDNESDAY_3PM_NY
    )
    assert alternate.to == "+12125550101"
    assert alternate.language == "en"


async def test_another_organizations_account_is_not_found(db: Database) -> None:
    mine = await create_organization(db, US_ORG)
    theirs = await create_organization(db, ES_ORG)
    contact = await make_contact(db, theirs.id, phone="+34600000001")
    account = await make_account(db, theirs.id, contact, external_id="X-1")
    for ref in (account, "X-1"):
        with pytest.raises(NotFound):
            await plan_outbound_call(
                db, org_id=mine.id, account=ref, to=None, language=None, at=WEDNESDAY_3PM_NY
            )


async def test_only_the_contacts_own_numbers_can_be_dialled(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id, phone="+12125550100")
    account = await make_account(db, org.id, contact)
    with pytest.raises(InvalidInput) as refused:
        await plan_outbound_call(
            db,
            org_id=org.id,
            account=account,
            to="+12125559999",
            language=None,
            at=WEDNESDAY_3PM_NY,
        )
    assert refused.value.errors[0].field == "to"


async def test_compliance_decides_whether_the_call_may_go_ahead(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id, phone="+12125550100", timezone="America/New_York")
    account = await make_account(db, org.id, contact)
    late = await plan_outbound_call(
        db, org_id=org.id, account=account, to=None, language=None, at=WEDNESDAY_11PM_NY
    )
    assert not late.allowed
    assert late.decision.reason is Reason.OUTSIDE_HOURS
    assert late.decision.next_allowed_at is not None


async def test_phone_rotation_skips_disconnected_and_puts_wrong_party_last(
    db: Database,
) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id, phone="+12125550100")
    await make_contact_phone(db, org.id, contact, "+12125550100", state="disconnected")
    await make_contact_phone(db, org.id, contact, "+12125550101", state="wrong_party")
    await make_contact_phone(db, org.id, contact, "+12125550102", source="import")
    account = await make_account(db, org.id, contact)
    plan = await plan_outbound_call(
        db, org_id=org.id, account=account, to=None, language=None, at=WEDNESDAY_3PM_NY
    )
    assert plan.to == "+12125550102"
    with pytest.raises(InvalidInput):  # a disconnected number is not dialled even if asked
        await plan_outbound_call(
            db,
            org_id=org.id,
            account=account,
            to="+12125550100",
            language=None,
            at=WEDNESDAY_3PM_NY,
        )


async def test_when_the_primary_keeps_failing_the_alternate_is_tried(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id, phone="+12125550100")
    await make_contact_phone(db, org.id, contact, "+12125550100", consecutive_failures=2)
    await make_contact_phone(db, org.id, contact, "+12125550103", source="third_party")
    account = await make_account(db, org.id, contact)
    plan = await plan_outbound_call(
        db, org_id=org.id, account=account, to=None, language=None, at=WEDNESDAY_3PM_NY
    )
    assert plan.to == "+12125550103"
    assert plan.third_party_number  # the agent treats the call as a first contact


async def test_no_outbound_call_the_day_the_debtor_called_in(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    contact = await make_contact(db, org.id, phone="+12125550100", timezone="America/New_York")
    account = await make_account(db, org.id, contact)
    await open_session(
        db,
        org_id=org.id,
        call_sid="CA" + "1" * 32,
        direction="inbound",
        account_ref=account,
        now=WEDNESDAY_3PM_NY - dt.timedelta(hours=2),
    )
    plan = await plan_outbound_call(
        db, org_id=org.id, account=account, to=None, language=None, at=WEDNESDAY_3PM_NY
    )
    assert plan.decision.reason is Reason.INBOUND_TODAY
    assert plan.decision.next_allowed_at == dt.datetime(2026, 11, 19, 13, 0, tzinfo=dt.UTC)

    tomorrow = await plan_outbound_call(
        db,
        org_id=org.id,
        account=account,
        to=None,
        language=None,
        at=WEDNESDAY_3PM_NY + dt.timedelta(days=1),
    )
    assert tomorrow.allowed
