"""Status changes: the transition table, history, audit, forbidden moves and roles."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backoffice.accounts.status import TRANSITIONS, allowed, change_status, record_initial_status
from backoffice.errors import Conflict, InvalidInput, NotFound
from backoffice.store.db import Database
from backoffice.store.tables import ACCOUNT_STATUSES, account_status_history, accounts, audit_log
from tests.backoffice.accounts.data import make_account, make_contact, make_org
from tests.backoffice.api_client import api_harness

WORKING = (
    "pending_contact",
    "auto_management",
    "active_conversation",
    "promise_active",
    "escalated",
    "in_review",
)


def test_every_status_has_a_row_and_targets_are_statuses() -> None:
    assert set(TRANSITIONS) == set(ACCOUNT_STATUSES)
    for targets in TRANSITIONS.values():
        assert targets <= set(ACCOUNT_STATUSES)


@pytest.mark.parametrize("status", ACCOUNT_STATUSES)
def test_nothing_goes_back_to_new_and_staying_is_allowed(status: str) -> None:
    assert allowed(status, status)
    assert not allowed(status, "new") or status == "new"


def test_closed_only_reopens_for_review_and_paid_only_closes_or_is_reviewed() -> None:
    assert {s for s in ACCOUNT_STATUSES if s != "closed" and allowed("closed", s)} == {"in_review"}
    assert {s for s in ACCOUNT_STATUSES if s != "paid" and allowed("paid", s)} == {
        "closed",
        "in_review",
    }


def test_overdue_needs_a_promise_first() -> None:
    came_from = {
        s for s in ACCOUNT_STATUSES if s != "promise_overdue" and allowed(s, "promise_overdue")
    }
    assert came_from == {"promise_active"}
    assert allowed("promise_overdue", "promise_active")  # a new promise


def test_work_moves_freely_and_can_always_be_paid_paused_or_closed() -> None:
    for a in WORKING:
        for b in (*WORKING, "paused", "paid", "closed"):
            assert allowed(a, b), (a, b)
    for status in (*WORKING, "new", "promise_overdue", "paused"):
        assert allowed(status, "paid")
        assert allowed(status, "closed")


def test_paused_must_resume_before_conversation_or_promise() -> None:
    assert not allowed("paused", "active_conversation")
    assert not allowed("paused", "promise_active")
    assert allowed("paused", "pending_contact")


async def _account(db: Database) -> tuple[str, str]:
    org = await make_org(db)
    contact = await make_contact(db, org.id)
    return org.id, await make_account(db, org.id, contact)


async def test_a_change_is_kept_in_history_and_audit_in_one_transaction(db: Database) -> None:
    org, account = await _account(db)
    async with db.transaction() as conn:
        change = await change_status(
            conn,
            org_id=org,
            account_id=account,
            to_status="promise_active",
            actor="agent:CA0001",
            reason="promised 100 on Friday",
        )
    assert change.changed
    assert (change.from_status, change.to_status) == ("new", "promise_active")
    async with db.read() as conn:
        row = (await conn.execute(select(accounts).where(accounts.c.id == account))).one()
        history = (await conn.execute(select(account_status_history))).all()
        audits = (await conn.execute(select(audit_log))).all()
    assert row.status == "promise_active"
    assert row.priority_computed_at is not None
    assert [(h.from_status, h.to_status, h.actor, h.reason) for h in history] == [
        ("new", "promise_active", "agent:CA0001", "promised 100 on Friday")
    ]
    assert history[0].at.tzinfo is not None
    assert [(a.action, a.entity_id, a.actor, a.reason, a.detail) for a in audits] == [
        (
            "account.status_changed",
            account,
            "agent:CA0001",
            "promised 100 on Friday",
            {"from": "new", "to": "promise_active"},
        )
    ]


async def test_a_failed_transaction_leaves_neither_change_nor_history(db: Database) -> None:
    org, account = await _account(db)

    async def caller_fails_after_the_change() -> None:
        async with db.transaction() as conn:
            await change_status(
                conn, org_id=org, account_id=account, to_status="paused", actor="x", reason="y"
            )
            raise RuntimeError("the caller's own work failed")

    with pytest.raises(RuntimeError):
        await caller_fails_after_the_change()
    async with db.read() as conn:
        status = (
            await conn.execute(select(accounts.c.status).where(accounts.c.id == account))
        ).scalar_one()
        history = (await conn.execute(select(account_status_history))).all()
    assert status == "new"
    assert history == []


async def test_same_status_is_a_no_op_and_bad_targets_are_refused(db: Database) -> None:
    org, account = await _account(db)
    async with db.transaction() as conn:
        same = await change_status(
            conn, org_id=org, account_id=account, to_status="new", actor="x", reason=None
        )
    assert not same.changed
    async with db.transaction() as conn:
        with pytest.raises(InvalidInput) as unknown:
            await change_status(
                conn, org_id=org, account_id=account, to_status="lost", actor="x", reason=None
            )
        with pytest.raises(Conflict) as forbidden:
            await change_status(
                conn,
                org_id=org,
                account_id=account,
                to_status="promise_overdue",
                actor="x",
                reason=None,
            )
        with pytest.raises(NotFound):
            await change_status(
                conn,
                org_id="0" * 32,
                account_id=account,
                to_status="paused",
                actor="x",
                reason=None,
            )
    assert unknown.value.errors[0].field == "to"
    assert "new to promise_overdue" in str(forbidden.value)
    async with db.read() as conn:
        assert (await conn.execute(select(account_status_history))).all() == []
        assert (await conn.execute(select(audit_log))).all() == []


async def test_status_api_roles_errors_and_closed_accounts(db: Database) -> None:
    async with api_harness(db) as api:
        contact = await make_contact(db, api.a.org.id)
        account = await make_account(db, api.a.org.id, contact)
        url = f"/api/accounts/{account}/status"
        viewer = await api.http.post(
            url, json={"to": "paused", "reason": "x"}, headers=api.a.headers("viewer")
        )
        no_reason = await api.http.post(url, json={"to": "paused"}, headers=api.a.headers())
        closed = await api.http.post(
            url, json={"to": "closed", "reason": "written off"}, headers=api.a.headers("operator")
        )
        reopen = await api.http.post(
            url, json={"to": "pending_contact", "reason": "oops"}, headers=api.a.headers()
        )
        review = await api.http.post(
            url, json={"to": "in_review", "reason": "client recalled"}, headers=api.a.headers()
        )
        unknown = await api.http.post(
            url, json={"to": "gone", "reason": "x"}, headers=api.a.headers()
        )
    assert viewer.status_code == 403
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "reason"
    assert closed.status_code == 200
    assert closed.json()["changed"] is True
    assert closed.json()["actor"] == "api:operator-key"
    assert reopen.status_code == 409
    assert "allowed: in_review" in reopen.json()["error"]
    assert review.status_code == 200
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["to"]


async def test_the_initial_status_can_open_the_history(db: Database) -> None:
    org, account = await _account(db)
    async with db.transaction() as conn:
        await record_initial_status(
            conn, org_id=org, account_id=account, status="new", actor="import", reason="file.csv"
        )
        await change_status(
            conn, org_id=org, account_id=account, to_status="paused", actor="api:x", reason="hold"
        )
    async with db.read() as conn:
        history = (
            await conn.execute(select(account_status_history).order_by(account_status_history.c.at))
        ).all()
        actions = (await conn.execute(select(audit_log.c.action, audit_log.c.detail))).all()
    assert [(h.from_status, h.to_status, h.actor) for h in history] == [
        (None, "new", "import"),
        ("new", "paused", "api:x"),
    ]
    assert {(a.action, a.detail["to"]) for a in actions} == {
        ("account.status_changed", "new"),
        ("account.status_changed", "paused"),
    }
