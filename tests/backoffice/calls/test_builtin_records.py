"""Behaviour of the built-in store that a partner's system decides for itself."""

from __future__ import annotations

from backoffice.calls.builtin import BuiltinRecords
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
