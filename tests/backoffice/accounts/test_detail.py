"""The account page and the contact page: their shape, and the document shown as last 4."""

from __future__ import annotations

import datetime as dt
import json

from backoffice.accounts.masking import mask_document
from backoffice.store.db import Database
from tests.backoffice.accounts.data import (
    make_account,
    make_callback,
    make_contact,
    make_debt_item,
    make_dispute,
    make_interaction,
    make_phone,
    make_promise,
)
from tests.backoffice.api_client import api_harness

DIGEST = "d" * 64


def test_document_is_masked_to_its_last_four_digits() -> None:
    assert mask_document("1234") == "•••• 1234"
    assert mask_document("X123456789") == "•••• 6789"  # a longer value is still trimmed
    assert mask_document(None) is None
    assert mask_document("") is None


async def test_account_detail_has_everything_newest_first(db: Database) -> None:
    async with api_harness(db) as api:
        org = api.a.org.id
        contact = await make_contact(
            db,
            org,
            "Ana García",
            email="ana@example.com",
            document_last4="4321",
            document_digest=DIGEST,
            date_of_birth=dt.date(1980, 5, 17),
        )
        await make_phone(db, org, contact, "+12125550199", "wrong_party", source="agent")
        await make_phone(db, org, contact, "+12125550177", "disconnected", source="import")
        account = await make_account(
            db, org, contact, reference="R-1", external_id="E-1", notes="VIP"
        )
        old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        first = await make_interaction(db, org, account, started_at=old, willingness=2)
        second = await make_interaction(
            db, org, account, started_at=old + dt.timedelta(days=3), summary="agreed to pay"
        )
        await make_promise(db, org, account, dt.date(2026, 12, 1))
        await make_dispute(db, org, account)
        await make_callback(db, org, account)
        await make_debt_item(db, org, account, "capital", "1000.00", date=dt.date(2025, 1, 1))
        await api.http.post(
            f"/api/accounts/{account}/status",
            json={"to": "pending_contact", "reason": "first try"},
            headers=api.a.headers("operator"),
        )
        await api.http.post(
            f"/api/accounts/{account}/status",
            json={"to": "escalated", "reason": "asked for a supervisor"},
            headers=api.a.headers(),
        )
        response = await api.http.get(f"/api/accounts/{account}", headers=api.a.headers("viewer"))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == account
    assert body["status"] == "escalated"
    assert body["notes"] == "VIP"
    assert body["contact"]["document"] == "•••• 4321"
    assert [p["state"] for p in body["contact"]["phones"]] == ["wrong_party", "disconnected"]
    assert [p["source"] for p in body["contact"]["phones"]] == ["agent", "import"]
    assert [i["id"] for i in body["interactions"]] == [second, first]
    assert body["interaction_count"] == 2
    assert body["interactions"][0]["summary"] == "agreed to pay"
    assert len(body["promises"]) == len(body["disputes"]) == len(body["callback_requests"]) == 1
    assert body["debt_items"][0]["amount"] == "1000.00"
    assert body["debt_items"][0]["currency"] == "USD"
    history = body["status_history"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        ("pending_contact", "escalated"),
        ("new", "pending_contact"),
    ]
    assert history[0]["actor"] == "api:admin-key"
    assert history[0]["reason"] == "asked for a supervisor"
    assert history[1]["actor"] == "api:operator-key"
    assert body["priority"]["score"] is not None  # computed on the status change
    assert {f["name"] for f in body["priority"]["factors"]} == {
        "balance",
        "days_past_due",
        "promise_history",
        "contactability",
        "willingness",
    }
    _only_last4(response.text)


def _only_last4(text: str) -> None:
    """Nothing of the document but its last four, and no date of birth or digest."""
    assert DIGEST not in text
    assert "1980-05-17" not in text
    assert "document_last4" not in text
    assert "document_digest" not in text
    assert "date_of_birth" not in text
    documents = [v for k, v in _walk(json.loads(text)) if k == "document"]
    assert documents and all(d is None or d == "•••• 4321" for d in documents)


def _walk(value: object) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((k, v))
            out += _walk(v)
    elif isinstance(value, list):
        for v in value:
            out += _walk(v)
    return out


async def test_contact_page_shows_phones_opt_out_and_accounts(db: Database) -> None:
    async with api_harness(db) as api:
        org = api.a.org.id
        opted = dt.datetime(2026, 2, 1, 12, 0, tzinfo=dt.UTC)
        contact = await make_contact(
            db,
            org,
            "Luis Peña",
            document_last4="4321",
            document_digest=DIGEST,
            date_of_birth=dt.date(1980, 5, 17),
            opted_out=True,
            opted_out_reason="asked on a call",
            opted_out_at=opted,
            opted_out_by="agent:CA123",
        )
        await make_phone(db, org, contact, "+12125550111", "valid", source="operator")
        first = await make_account(db, org, contact, reference="A")
        second = await make_account(db, org, contact, reference="B", balance="25.10")
        response = await api.http.get(f"/api/contacts/{contact}", headers=api.a.headers("viewer"))
        missing = await api.http.get(f"/api/contacts/{'0' * 32}", headers=api.a.headers())
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Luis Peña"
    assert body["document"] == "•••• 4321"
    assert body["opted_out"] is True
    assert body["opted_out_reason"] == "asked on a call"
    assert body["opted_out_by"] == "agent:CA123"
    assert body["opted_out_at"].startswith("2026-02-01T12:00:00")
    assert body["phones"][0]["number"] == "+12125550111"
    assert {a["id"] for a in body["accounts"]} == {first, second}
    assert {a["pending_balance"] for a in body["accounts"]} == {"1000.00", "25.10"}
    _only_last4(response.text)
    assert missing.status_code == 404


async def test_unknown_account_is_404(db: Database) -> None:
    async with api_harness(db) as api:
        response = await api.http.get(f"/api/accounts/{'f' * 32}", headers=api.a.headers())
        export_route = await api.http.get("/api/accounts/export.csv", headers=api.a.headers())
    assert response.status_code == 404
    assert response.json() == {"error": "account not found"}
    assert export_route.status_code == 200  # not captured by /api/accounts/{account_id}
