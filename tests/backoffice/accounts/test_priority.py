"""Priority scores from the store: inputs gathered per account, saved, bulk = one by one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from backoffice.accounts.priority import (
    recalculate,
    recalculate_after_commit,
    recalculate_organization,
    rescore_accounts,
)
from backoffice.store.db import Database
from backoffice.store.tables import accounts
from tests.backoffice.accounts.data import (
    NOW,
    make_account,
    make_contact,
    make_interaction,
    make_phone,
    make_promise,
)
from tests.backoffice.api_client import ApiHarness, api_harness

TODAY = NOW.date()


async def _portfolio(api: ApiHarness) -> dict[str, str]:
    db, org = api.db, api.a.org.id
    ana = await make_contact(db, org, "Ana", email="ana@example.com")
    await make_phone(db, org, ana, "+12125550199", "wrong_party")
    await make_phone(db, org, ana, "+12125550100", "valid")  # the main phone, confirmed
    target = await make_account(
        db,
        org,
        ana,
        balance="500.00",
        due_date=TODAY - dt.timedelta(days=60),
        updated_at=NOW - dt.timedelta(days=5),
    )
    await make_promise(db, org, target, TODAY - dt.timedelta(days=30), status="kept")
    await make_promise(db, org, target, TODAY - dt.timedelta(days=3))  # active, overdue
    await make_interaction(db, org, target, started_at=NOW - dt.timedelta(days=2), willingness=4)
    await make_interaction(db, org, target, started_at=NOW - dt.timedelta(days=9), willingness=2)
    await make_interaction(db, org, target, started_at=NOW - dt.timedelta(days=200), willingness=1)
    await make_interaction(db, org, target, started_at=NOW - dt.timedelta(days=1))  # no signal
    bob = await make_contact(db, org, "Bob", phone=None)
    small = await make_account(db, org, bob, balance="100.00")
    big = await make_account(db, org, bob, balance="900.00", status="paid")
    opted = await make_contact(db, org, "Olga", opted_out=True)
    stopped = await make_account(db, org, opted, balance="700.00")
    euro = await make_account(db, org, bob, balance="5.00", currency="EUR")
    # another organization's huge balance must not move org A's ranks
    other = await make_contact(db, api.b.org.id, "Zed")
    await make_account(db, api.b.org.id, other, balance="99999.00")
    return {"target": target, "small": small, "big": big, "stopped": stopped, "euro": euro}


async def test_one_account_is_scored_from_its_own_history(db: Database) -> None:
    async with api_harness(db) as api:
        ids = await _portfolio(api)
        async with db.transaction() as conn:
            priority = await recalculate(
                conn, org_id=api.a.org.id, account_id=ids["target"], now=NOW
            )
        async with db.read() as conn:
            row = (await conn.execute(select(accounts).where(accounts.c.id == ids["target"]))).one()
    factors = {f.name: f for f in priority.factors}
    # open USD accounts: 100, 500 (target), 700 -> mid-rank (1 + 0.5) / 3
    assert factors["balance"].value == 0.5
    assert factors["days_past_due"].value == 0.8
    assert factors["promise_history"].value == 0.5  # 1 kept, 1 broken (overdue)
    assert factors["promise_history"].detail == "1 kept, 1 broken"
    assert factors["contactability"].value == 0.75 * 0.5 + 0.25  # 1 valid, 1 wrong party
    assert factors["willingness"].value == (16 / 5 - 1) / 4  # 4 then 2; day 200 too old
    expected = 30 * 0.5 + 25 * 0.8 + 15 * 0.5 + 15 * 0.625 + 15 * 0.55
    assert priority.score == int(expected + 0.5)
    assert priority.blocked_by is None
    assert priority.computed_at == NOW
    assert row.priority_score == priority.score
    assert row.priority_computed_at == NOW
    assert row.priority_factors["factors"][0]["name"] == "balance"
    assert row.updated_at == NOW - dt.timedelta(days=5)  # a rescore is not an edit


async def test_bulk_recompute_matches_one_by_one(db: Database) -> None:
    async with api_harness(db) as api:
        ids = await _portfolio(api)
        org = api.a.org.id
        one_by_one = {}
        async with db.transaction() as conn:
            for key, account in ids.items():
                one_by_one[key] = await recalculate(conn, org_id=org, account_id=account, now=NOW)
        count = await recalculate_organization(db, org, now=NOW, batch_size=2)
        async with db.read() as conn:
            stored = {
                r.id: (r.priority_score, r.priority_factors)
                for r in await conn.execute(select(accounts).where(accounts.c.org_id == org))
            }
    assert count == len(ids)
    for key, account in ids.items():
        score, factors = stored[account]
        assert score == one_by_one[key].score, key
        assert [f["value"] for f in factors["factors"]] == [
            f.value for f in one_by_one[key].factors
        ], key
    assert one_by_one["big"].blocked_by == "status is paid"
    assert one_by_one["stopped"].blocked_by == "contact opted out"
    assert one_by_one["stopped"].score == 0
    assert {f.name: f.value for f in one_by_one["euro"].factors}["balance"] == 0.5  # alone in EUR
    assert {f.name: f.value for f in one_by_one["small"].factors}["contactability"] == 0.0


async def test_priority_api_recalculates_and_returns_the_breakdown(db: Database) -> None:
    async with api_harness(db) as api:
        ids = await _portfolio(api)
        url = f"/api/accounts/{ids['target']}/priority"
        viewer = await api.http.post(url, headers=api.a.headers("viewer"))
        response = await api.http.post(url, headers=api.a.headers("operator"))
        listed = await api.http.get("/api/accounts", headers=api.a.headers("viewer"))
    assert viewer.status_code == 403
    assert response.status_code == 200
    body = response.json()
    assert 0 < body["score"] <= 100
    assert [f["name"] for f in body["factors"]] == [
        "balance",
        "days_past_due",
        "promise_history",
        "contactability",
        "willingness",
    ]
    assert body["computed_at"].endswith(("+00:00", "Z"))
    assert listed.json()["items"][0]["id"] == ids["target"]  # the only scored one
    assert listed.json()["items"][0]["priority_score"] == body["score"]


async def _stored(db: Database, account_id: str) -> Any:
    async with db.read() as conn:
        return (await conn.execute(select(accounts).where(accounts.c.id == account_id))).one()


async def test_background_rescore_scores_like_one_by_one(db: Database) -> None:
    async with api_harness(db) as api:
        ids = await _portfolio(api)
        org = api.a.org.id
        written = await rescore_accounts(db, org, [ids["target"], ids["small"], "no-such-id"])
        assert written == 2
        for key in ("target", "small"):
            row = await _stored(db, ids[key])
            assert row.priority_computed_at is not None
            async with db.transaction() as conn:
                again = await recalculate(
                    conn, org_id=org, account_id=ids[key], now=row.priority_computed_at
                )
            assert row.priority_score == again.score
        # another organization's account is not touched through this one's id list
        assert await rescore_accounts(db, api.b.org.id, [ids["target"]]) == 0


async def test_background_rescore_leaves_a_score_computed_from_fresher_inputs(
    db: Database,
) -> None:
    async with api_harness(db) as api:
        ids = await _portfolio(api)
        org = api.a.org.id
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        async with db.transaction() as conn:
            fresher = await recalculate(conn, org_id=org, account_id=ids["target"], now=later)
        await rescore_accounts(db, org, [ids["target"]])
        row = await _stored(db, ids["target"])
        assert row.priority_computed_at == later
        assert row.priority_score == fresher.score


async def test_changes_close_together_are_rescored_in_one_batch(db: Database) -> None:
    async with api_harness(db) as api:
        ids = await _portfolio(api)
        org = api.a.org.id
        for key in ("target", "small", "euro"):
            async with db.transaction() as conn:
                await recalculate_after_commit(conn, org_id=org, account_id=ids[key])
        await db.settle()
        rows = [await _stored(db, ids[key]) for key in ("target", "small", "euro")]
    assert all(r.priority_score is not None for r in rows)
    # one batch: the three were scored from one reading, at one time
    assert len({r.priority_computed_at for r in rows}) == 1
