"""The JSON sync: the same list sent twice changes nothing the second time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from backoffice.portfolio.service import sync_accounts
from backoffice.store.db import Database
from tests.backoffice.portfolio.helpers import KEY, USA, accounts_of, make_org

ITEMS: list[dict[str, Any]] = [
    {
        "external_id": "A-1",
        "contact_name": "Mary Smith",
        "total_amount": 1234.5,
        "due_date": "12/31/2026",
        "phone": "(212) 555-0123",
        "email": "mary@example.com",
        "language": "en-US",
        "timezone": "America/Los_Angeles",
        "document": "123-45-6789",
    },
    {"external_id": "A-2", "contact_name": "John Roe", "total_amount": "1,500.00"},
    {"external_id": 3, "contact_name": "Ann Lee", "total_amount": "99.99", "pending_balance": 50},
    {"contact_name": "No Id", "total_amount": 10},  # refused: a sync needs external_id
    {"external_id": "A-5", "contact_name": "Bad Phone", "total_amount": 10, "phone": "555"},
]


async def test_sync_inserts_then_changes_nothing_then_updates(db: Database) -> None:
    org = await make_org(db, USA)
    report, warnings = await sync_accounts(db, org.id, ITEMS, document_key=KEY, actor="t")
    assert (report.inserted, report.updated, report.unchanged) == (3, 0, 0)
    assert [(r.row, r.field) for r in report.rejected] == [(3, "external_id"), (4, "phone")]
    assert warnings == []  # 12/31/2026 is month-first, as en-US writes it
    stored = await accounts_of(db, org.id)
    mary = stored["A-1"]
    assert (mary.total_amount, mary.currency, str(mary.due_date)) == (
        Decimal("1234.50"),
        "USD",
        "2026-12-31",
    )
    assert (mary.phone, mary.timezone, mary.document_last4) == (
        "+12125550123",
        "America/Los_Angeles",
        "6789",
    )
    assert stored["3"].pending_balance == Decimal("50.00")

    report, _ = await sync_accounts(db, org.id, ITEMS, document_key=KEY, actor="t")
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 3)
    assert len(await accounts_of(db, org.id)) == 3

    changed = [dict(ITEMS[0], total_amount="1,300.00"), {"external_id": "A-2"}]
    report, _ = await sync_accounts(db, org.id, changed, document_key=KEY, actor="t")
    assert (report.inserted, report.updated) == (0, 1)
    assert [(r.row, r.field) for r in report.rejected] == [(1, "contact_name"), (1, "total_amount")]
    assert (await accounts_of(db, org.id))["A-1"].total_amount == Decimal("1300.00")


async def test_a_repeated_external_id_in_one_list_ends_as_the_last_one(db: Database) -> None:
    org = await make_org(db, USA)
    items: list[dict[str, Any]] = [
        {"external_id": "X", "contact_name": "First", "total_amount": 10},
        {"external_id": "X", "contact_name": "Second", "total_amount": 20},
    ]
    report, warnings = await sync_accounts(db, org.id, items, document_key=KEY, actor="t")
    assert (report.inserted, report.updated) == (1, 1)
    assert "repeat an external_id" in warnings[0] and "item 1" in warnings[0]
    stored = await accounts_of(db, org.id)
    assert (stored["X"].name, stored["X"].total_amount) == ("Second", Decimal("20.00"))


async def test_unknown_keys_are_refused_per_item(db: Database) -> None:
    org = await make_org(db, USA)
    items: list[dict[str, Any]] = [
        {"external_id": "Z", "contact_name": "Z", "total_amount": 1, "colour": "red"}
    ]
    report, _ = await sync_accounts(db, org.id, items, document_key=KEY, actor="t")
    assert [(r.row, r.field, r.reason) for r in report.rejected] == [(0, "colour", "not a field")]
