"""Debt items: the balance rule (pure), and adding/editing items through the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backoffice.accounts.ledger import ledger_balance, needs_opening_balance
from backoffice.store.db import Database
from backoffice.store.tables import audit_log
from tests.backoffice.accounts.data import make_account, make_contact
from tests.backoffice.api_client import ApiHarness, api_harness

D = Decimal


def test_ledger_counts_charges_unless_cancelled_and_payments_once_applied() -> None:
    assert ledger_balance([]) is None
    items = [
        ("capital", D("1000.00"), "applied"),
        ("interest", D("50.25"), "pending"),
        ("fees", D("20.00"), "cancelled"),
        ("payment", D("300.00"), "applied"),
        ("payment", D("99.00"), "pending"),
        ("payment", D("5.00"), "cancelled"),
    ]
    assert ledger_balance(items) == D("750.25")
    assert ledger_balance([("payment", D("10"), "applied")]) == D("-10.00")  # a credit


def test_opening_balance_only_before_the_first_non_capital_item() -> None:
    assert needs_opening_balance(False, "payment", D("1000"))
    assert needs_opening_balance(False, "interest", D("1"))
    assert not needs_opening_balance(False, "capital", D("1000"))
    assert not needs_opening_balance(True, "payment", D("1000"))
    assert not needs_opening_balance(False, "payment", D("0"))


async def _setup(api: ApiHarness) -> str:
    contact = await make_contact(api.db, api.a.org.id)
    return await make_account(api.db, api.a.org.id, contact, balance="1000.00")


async def _add(api: ApiHarness, account: str, **body: Any) -> Any:
    return await api.http.post(
        f"/api/accounts/{account}/debt-items", json=body, headers=api.a.headers("operator")
    )


async def _balance(api: ApiHarness, account: str) -> str:
    detail = await api.http.get(f"/api/accounts/{account}", headers=api.a.headers("viewer"))
    value: str = detail.json()["pending_balance"]
    return value


async def test_a_payment_on_an_imported_balance_books_the_opening_balance(db: Database) -> None:
    async with api_harness(db) as api:
        account = await _setup(api)
        paid = await _add(api, account, kind="payment", amount="100.50", state="applied")
        detail = await api.http.get(f"/api/accounts/{account}", headers=api.a.headers())
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert body["pending_balance_before"] == "1000.00"
    assert body["pending_balance_after"] == "899.50"
    assert body["currency"] == "USD"
    assert body["item"]["kind"] == "payment"
    items = detail.json()["debt_items"]
    assert [(i["kind"], i["amount"], i["state"], i["description"]) for i in items] == [
        ("capital", "1000.00", "applied", "opening balance"),
        ("payment", "100.50", "applied", None),
    ]
    assert detail.json()["pending_balance"] == "899.50"
    assert detail.json()["total_amount"] == "1000.00"  # the original debt is kept


async def test_edits_recompute_the_balance_and_are_audited(db: Database) -> None:
    async with api_harness(db) as api:
        account = await _setup(api)
        capital = await _add(api, account, kind="capital", amount="800", state="applied")
        assert capital.json()["pending_balance_after"] == "800.00"  # itemising from scratch
        fees = await _add(api, account, kind="fees", amount="35.00", date="2026-11-01")
        assert fees.json()["pending_balance_after"] == "835.00"
        payment = await _add(api, account, kind="payment", amount="200")
        assert payment.json()["pending_balance_after"] == "835.00"  # pending: not yet counted
        payment_id = payment.json()["item"]["id"]
        url = f"/api/accounts/{account}/debt-items/{payment_id}"
        applied = await api.http.patch(url, json={"state": "applied"}, headers=api.a.headers())
        cancel_fees = await api.http.patch(
            f"/api/accounts/{account}/debt-items/{fees.json()['item']['id']}",
            json={"state": "cancelled"},
            headers=api.a.headers(),
        )
        same = await api.http.patch(url, json={"state": "applied"}, headers=api.a.headers())
        amount = await api.http.patch(url, json={"amount": "250.00"}, headers=api.a.headers())
        final = await _balance(api, account)
        edit_cancelled = await api.http.patch(
            f"/api/accounts/{account}/debt-items/{fees.json()['item']['id']}",
            json={"amount": "1.00"},
            headers=api.a.headers(),
        )
        async with db.read() as conn:
            audits = (
                await conn.execute(select(audit_log).order_by(audit_log.c.at, audit_log.c.id))
            ).all()
    assert applied.json()["pending_balance_after"] == "635.00"
    assert cancel_fees.json()["pending_balance_after"] == "600.00"
    assert same.json()["pending_balance_before"] == same.json()["pending_balance_after"]
    assert amount.json()["pending_balance_after"] == "550.00"
    assert final == "550.00"
    assert edit_cancelled.status_code == 409
    actions = [a.action for a in audits]
    assert actions.count("debt_item.added") == 3
    assert actions.count("debt_item.updated") == 3  # the unchanged patch is not audited
    last = [a for a in audits if a.action == "debt_item.updated"][-1]
    assert last.detail["before"] == {"amount": "200.00"}
    assert last.detail["after"] == {"amount": "250.00"}
    assert last.detail["pending_balance_before"] == "600.00"
    assert last.detail["pending_balance_after"] == "550.00"
    assert last.actor == "api:admin-key"


async def test_bad_items_name_the_field(db: Database) -> None:
    async with api_harness(db) as api:
        account = await _setup(api)
        negative = await _add(api, account, kind="payment", amount="-5")
        too_precise = await _add(api, account, kind="payment", amount="1.005")
        wrong_kind = await _add(api, account, kind="refund", amount="5")
        wrong_currency = await _add(api, account, kind="fees", amount="5", currency="eur")
        viewer = await api.http.post(
            f"/api/accounts/{account}/debt-items",
            json={"kind": "fees", "amount": "5"},
            headers=api.a.headers("viewer"),
        )
        other_item = await api.http.patch(
            f"/api/accounts/{account}/debt-items/{'0' * 32}",
            json={"amount": "5"},
            headers=api.a.headers(),
        )
        balance = await _balance(api, account)
    assert [r.status_code for r in (negative, too_precise, wrong_kind, wrong_currency)] == [422] * 4
    assert negative.json()["errors"][0]["field"] == "amount"
    assert too_precise.json()["errors"][0]["field"] == "amount"
    assert wrong_kind.json()["errors"][0]["field"] == "kind"
    assert wrong_currency.json()["errors"] == [
        {"field": "currency", "reason": "the account is in USD"}
    ]
    assert viewer.status_code == 403
    assert other_item.status_code == 404
    assert balance == "1000.00"  # nothing refused changed anything


async def test_null_clears_date_and_description_but_not_required_fields(db: Database) -> None:
    async with api_harness(db) as api:
        account = await _setup(api)
        added = await _add(
            api, account, kind="fees", amount="5.00", date="2026-01-02", description="late fee"
        )
        url = f"/api/accounts/{account}/debt-items/{added.json()['item']['id']}"
        cleared = await api.http.patch(
            url, json={"description": None, "date": None, "amount": None}, headers=api.a.headers()
        )
    item = cleared.json()["item"]
    assert (item["description"], item["date"], item["amount"]) == (None, None, "5.00")
