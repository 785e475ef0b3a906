"""The CSV export: same filters as the list, streamed in chunks, document as last 4."""

from __future__ import annotations

import csv
import io

import pytest

from backoffice.accounts import export
from backoffice.accounts.query import AccountQuery
from backoffice.store.db import Database
from tests.backoffice.accounts.data import make_account, make_contact, make_org
from tests.backoffice.api_client import api_harness


async def test_export_has_a_header_plain_amounts_and_masked_documents(db: Database) -> None:
    async with api_harness(db) as api:
        org = api.a.org.id
        ana = await make_contact(
            db, org, "Ana García", document_last4="1234", document_digest="e" * 64
        )
        evil = await make_contact(db, org, '=HYPERLINK("http://x")', email="-x@example.com")
        await make_account(
            db, org, ana, balance="1234.50", reference="R-1", external_id="E-1", priority_score=80
        )
        await make_account(db, org, evil, balance="10.00", reference="R-2", status="paid")
        other = await make_contact(db, api.b.org.id, "Intruso")
        await make_account(db, api.b.org.id, other, reference="R-B")
        response = await api.http.get("/api/accounts/export.csv", headers=api.a.headers("viewer"))
        only_new = await api.http.get(
            "/api/accounts/export.csv", params={"status": "new"}, headers=api.a.headers()
        )
        bad = await api.http.get(
            "/api/accounts/export.csv", params={"status": "nope"}, headers=api.a.headers()
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == list(export.COLUMNS)
    assert [r["reference"] for r in rows] == ["R-1", "R-2"]  # priority first, unscored last
    first = rows[0]
    assert first["pending_balance"] == "1234.50"
    assert first["total_amount"] == "1234.50"
    assert first["currency"] == "USD"
    assert first["document"] == "•••• 1234"
    assert first["contact_name"] == "Ana García"
    assert first["opted_out"] == "false"
    assert first["priority_score"] == "80"
    assert first["phone"] == "+12125550100"
    assert "e" * 64 not in response.text
    assert rows[1]["contact_name"] == '\'=HYPERLINK("http://x")'
    assert rows[1]["email"] == "'-x@example.com"
    assert rows[1]["document"] == ""
    assert "Intruso" not in response.text
    assert [r["reference"] for r in csv.DictReader(io.StringIO(only_new.text))] == ["R-1"]
    assert bad.status_code == 422


async def test_export_streams_in_chunks(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "CHUNK_ROWS", 3)
    org = await make_org(db)
    contact = await make_contact(db, org.id)
    for i in range(7):
        await make_account(db, org.id, contact, reference=f"R-{i}", priority_score=i)
    chunks = [c async for c in export.export_csv(db, org.id, AccountQuery(page_size=2))]
    assert len(chunks) == 3  # 3 + 3 + 1 rows, header with the first
    assert chunks[0].startswith("account_id,")
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert [r["reference"] for r in rows] == [f"R-{i}" for i in range(6, -1, -1)]  # no paging


async def test_empty_export_is_just_the_header(db: Database) -> None:
    org = await make_org(db)
    chunks = [c async for c in export.export_csv(db, org.id, AccountQuery())]
    assert "".join(chunks) == ",".join(export.COLUMNS) + "\r\n"
