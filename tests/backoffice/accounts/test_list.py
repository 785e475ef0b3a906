"""The account list: status filter, search, sort and pagination, on both databases."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backoffice.accounts import repository
from backoffice.accounts.query import AccountQuery
from backoffice.store.db import Database
from tests.backoffice.accounts.data import make_account, make_contact
from tests.backoffice.api_client import ApiHarness, api_harness


async def _portfolio(api: ApiHarness) -> dict[str, str]:
    """Five accounts of org A (and one of org B that must never show up)."""
    db, org = api.db, api.a.org.id
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows: list[tuple[str, str, str, str, int | None, int]] = [
        # key, name, status, balance, priority, due (days after base)
        ("ana", "Ana García", "new", "100.00", 40, 10),
        ("bob", "Bob Stone", "promise_active", "2500.00", 90, 5),
        ("cat", "Catalina Ruiz", "new", "50.00", None, 30),
        ("dan", "Dan O'Neil", "paid", "0.00", 0, 1),
        ("eva", "Eva Müller", "promise_overdue", "990.00", 70, 20),
    ]
    ids = {}
    for i, (key, name, status, balance, score, due) in enumerate(rows):
        contact = await make_contact(api.db, org, name)
        ids[key] = await make_account(
            db,
            org,
            contact,
            balance=balance,
            status=status,
            priority_score=score,
            reference=f"REF-{i:03d}-{key.upper()}",
            external_id=f"ext_{key}",
            due_date=(base + dt.timedelta(days=due)).date(),
            created_at=base + dt.timedelta(hours=i),
        )
    other = await make_contact(db, api.b.org.id, "Ana Intrusa")
    await make_account(db, api.b.org.id, other, reference="REF-000-ANA", priority_score=100)
    return ids


async def _list(api: ApiHarness, **params: Any) -> dict[str, Any]:
    response = await api.http.get("/api/accounts", params=params, headers=api.a.headers("viewer"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _keys(body: dict[str, Any], ids: dict[str, str]) -> list[str]:
    names = {v: k for k, v in ids.items()}
    return [names[item["id"]] for item in body["items"]]


async def test_default_order_is_priority_high_first_unscored_last(db: Database) -> None:
    async with api_harness(db) as api:
        ids = await _portfolio(api)
        body = await _list(api)
    assert _keys(body, ids) == ["bob", "eva", "ana", "dan", "cat"]
    assert body["total"] == 5
    first = body["items"][0]
    assert first["pending_balance"] == "2500.00"
    assert first["currency"] == "USD"
    assert first["contact_name"] == "Bob Stone"


async def test_status_filter_takes_one_or_several(db: Database) -> None:
    async with api_harness(db) as api:
        ids = await _portfolio(api)
        one = await _list(api, status="new")
        several = await _list(api, status="promise_active,promise_overdue")
        repeated = await api.http.get(
            "/api/accounts",
            params=[("status", "promise_active"), ("status", "promise_overdue")],
            headers=api.a.headers("viewer"),
        )
        bad = await api.http.get(
            "/api/accounts", params={"status": "new,lost"}, headers=api.a.headers()
        )
    assert sorted(_keys(one, ids)) == ["ana", "cat"]
    assert _keys(several, ids) == ["bob", "eva"]
    assert _keys(repeated.json(), ids) == ["bob", "eva"]
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "status"
    assert "lost" in bad.json()["errors"][0]["reason"]


async def test_search_by_reference_external_id_or_name(db: Database) -> None:
    async with api_harness(db) as api:
        ids = await _portfolio(api)
        by_reference = await _list(api, q="ref-001")
        by_external = await _list(api, q="EXT_CA")
        by_name = await _list(api, q="stone")
        by_name_part = await _list(api, q="o'nei")
        wildcard = await _list(api, q="%")
        nothing = await _list(api, q="zzz")
    assert _keys(by_reference, ids) == ["bob"]
    assert _keys(by_external, ids) == ["cat"]
    assert _keys(by_name, ids) == ["bob"]
    assert _keys(by_name_part, ids) == ["dan"]
    assert wildcard["total"] == 0  # LIKE wildcards in the search are literal
    assert nothing["items"] == []


async def test_sort_keys_and_directions(db: Database) -> None:
    async with api_harness(db) as api:
        ids = await _portfolio(api)
        by_due = await _list(api, sort="due_date")
        by_balance_desc = await _list(api, sort="pending_balance", order="desc")
        by_reference = await _list(api, sort="reference")
        by_created_desc = await _list(api, sort="created_at", order="desc")
        priority_asc = await _list(api, sort="priority", order="asc")
        bad = await api.http.get(
            "/api/accounts", params={"sort": "name", "order": "up"}, headers=api.a.headers()
        )
    assert _keys(by_due, ids) == ["dan", "bob", "ana", "eva", "cat"]
    assert _keys(by_balance_desc, ids) == ["bob", "eva", "ana", "cat", "dan"]
    assert _keys(by_reference, ids) == ["ana", "bob", "cat", "dan", "eva"]
    assert _keys(by_created_desc, ids) == ["eva", "dan", "cat", "bob", "ana"]
    assert _keys(priority_asc, ids) == ["dan", "ana", "eva", "bob", "cat"]  # unscored last
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"sort", "order"}


async def test_pages_cover_the_list_once(db: Database) -> None:
    async with api_harness(db) as api:
        ids = await _portfolio(api)
        pages = [await _list(api, page=n, page_size=2) for n in (1, 2, 3, 4)]
        too_big = await api.http.get(
            "/api/accounts", params={"page_size": 1000, "page": 0}, headers=api.a.headers()
        )
    seen = [key for page in pages for key in _keys(page, ids)]
    assert seen == ["bob", "eva", "ana", "dan", "cat"]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert pages[0]["pages"] == 3
    assert pages[3]["items"] == []
    assert too_big.status_code == 422
    assert {e["field"] for e in too_big.json()["errors"]} == {"page", "page_size"}


async def test_repository_scopes_everything_to_the_organization(db: Database) -> None:
    async with api_harness(db) as api:
        await _portfolio(api)
        async with db.read() as conn:
            page_b = await repository.list_accounts(conn, api.b.org.id, AccountQuery(q="ref"))
    assert page_b.total == 1
    assert page_b.items[0].contact_name == "Ana Intrusa"
