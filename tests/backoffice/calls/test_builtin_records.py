"""Behaviour of the built-in store that a partner's system decides for itself."""

from __future__ import annotations

from backoffice.calls.builtin import BuiltinRecords
from backoffice.calls.models import CallRef
from backoffice.calls.rotation import dial_order
from backoffice.store.db import Database
from tests.backoffice.calls.backends import clock, make_org
from tests.backoffice.factories import make_account, make_contact, make_contact_phone

SHARED = "+13125550188"


async def test_a_caller_hears_about_the_most_urgent_account_first_unscored_ones_last(
    db: Database,
) -> None:
    org = await make_org(db)
    contact = await make_contact(db, org.id, phone="+12125550101")
    await make_contact_phone(db, org.id, contact, SHARED)
    unscored = await make_account(db, org.id, contact, priority_score=None)
    low = await make_account(db, org.id, contact, priority_score=10)
    urgent = await make_account(db, org.id, contact, priority_score=90)
    paid = await make_account(db, org.id, contact, priority_score=99, status="paid")
    found = await BuiltinRecords(db, clock).match_caller(org.id, SHARED)
    assert [s.account_ref for s in found] == [urgent, low, unscored, paid]


async def test_a_main_number_kept_only_on_the_contact_is_still_marked_wrong_party(
    db: Database,
) -> None:
    org = await make_org(db)
    contact = await make_contact(db, org.id, phone="+12125550101")  # no number filed
    await make_contact_phone(db, org.id, contact, SHARED)
    account = await make_account(db, org.id, contact)
    records = BuiltinRecords(db, clock)
    call = CallRef(org.id, "CA" + "1" * 32, account, contact, number="+12125550101")
    assert (await records.mark_wrong_party(call, "w1")).ok
    subject = await records.call_subject(org.id, account)
    states = {p.number: p.state for p in subject.phones}
    assert states == {"+12125550101": "wrong_party", SHARED: "valid"}
    assert dial_order(subject.phones) == [SHARED, "+12125550101"]
