"""Priority scores in the store: gather each account's inputs, score them, save the result.

:func:`recalculate` scores one account inside the caller's transaction. Call it after
any event that moves a factor: a promise recorded, kept or broken; an interaction
finished with a willingness; a phone marked wrong-party or disconnected; an opt-out;
a payment or other debt item; a status change (``change_status`` and the debt item
service already do). :func:`recalculate_organization` rescores a whole organization in
batches, each in its own short transaction, for the nightly run (days past due move
with the calendar) and after an import.

Both paths share :func:`_score_batch`; they differ only in how a balance's rank is
found: one account counts its place with a query, the bulk run sorts the
organization's balances once and bisects. ``rank_of`` is the one formula for both.

Days past due are counted in UTC calendar days. Promise statuses read here: ``kept``,
``broken`` and ``active`` (an active promise past its due date counts as broken; one
not yet due is pending).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Row, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.accounts.models import Factor, Priority
from backoffice.accounts.repository import account_row
from backoffice.accounts.scoring import (
    NOT_CALLABLE_STATUSES,
    Score,
    ScoreInputs,
    mid_rank,
    rank_of,
    score,
)
from backoffice.store.db import Database, after_commit
from backoffice.store.tables import (
    accounts,
    contact_phones,
    contacts,
    interactions,
    promises,
    utcnow,
)

log = structlog.get_logger(__name__)

RECENT_WILLINGNESS = dt.timedelta(days=90)
BATCH_SIZE = 500
FORMAT_VERSION = 1

Ranker = Callable[[str, Decimal], Awaitable[float]]


def _open(org_id: str) -> list[Any]:
    return [accounts.c.org_id == org_id, accounts.c.status.not_in(NOT_CALLABLE_STATUSES)]


def counting_ranker(conn: AsyncConnection, org_id: str) -> Ranker:
    """Rank one balance with a count over the organization's open accounts."""

    async def rank(currency: str, balance: Decimal) -> float:
        row = (
            await conn.execute(
                select(
                    func.count().filter(accounts.c.pending_balance < balance),
                    func.count().filter(accounts.c.pending_balance == balance),
                    func.count(),
                ).where(*_open(org_id), accounts.c.currency == currency)
            )
        ).one()
        return rank_of(int(row[0]), int(row[1]), int(row[2]))

    return rank


async def sorted_ranker(conn: AsyncConnection, org_id: str) -> Ranker:
    """Rank balances against the organization's balances, sorted once per currency.

    Holds one ``Decimal`` per open account in memory (about 100 bytes each).
    """
    balances: dict[str, list[Decimal]] = defaultdict(list)
    result = await conn.stream(
        select(accounts.c.currency, accounts.c.pending_balance)
        .where(*_open(org_id))
        .order_by(accounts.c.currency, accounts.c.pending_balance)
    )
    async for currency, balance in result:
        balances[currency].append(balance)

    async def rank(currency: str, balance: Decimal) -> float:
        return mid_rank(balances.get(currency, []), balance)

    return rank


async def recalculate(
    conn: AsyncConnection, *, org_id: str, account_id: str, now: dt.datetime | None = None
) -> Priority:
    """Score one account and store score, factors and time, in the caller's transaction.

    Raises:
        NotFound: also for another organization's account.
    """
    row = await account_row(conn, org_id, account_id)
    [priority] = await _score_batch(conn, org_id, [row], counting_ranker(conn, org_id), now)
    return priority


async def recalculate_after_commit(conn: AsyncConnection, *, org_id: str, account_id: str) -> None:
    """Rescore the account soon after the caller's transaction has committed; inline
    when ``conn`` is not a :class:`Database` transaction.

    For the agent's actions mid-call: the agent is answered without waiting for the
    score (a count over the organization's open accounts, and the factors' reads).
    Accounts changed within :data:`RESCORE_GATHER_S` of each other are rescored
    together (:func:`rescore_accounts`), so a burst of promises across many calls
    costs one batch, not one rescore each. The call list sees the new score a moment
    later. Should the process stop in between, the account keeps its previous score
    until it is next rescored (its next change, ``POST /api/accounts/{id}/priority``,
    or an organization-wide :func:`recalculate_organization`).
    """

    async def rescore(db: Database) -> None:
        await _rescore_soon(db, org_id, account_id)

    if not after_commit(conn, rescore):
        await recalculate(conn, org_id=org_id, account_id=account_id)


#: How long a background rescore waits for more accounts to batch with.
RESCORE_GATHER_S = 0.1


@dataclass
class _Backlog:
    """Accounts waiting for a background rescore, per organization."""

    accounts: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    draining: bool = False


_backlogs: weakref.WeakKeyDictionary[Database, _Backlog] = weakref.WeakKeyDictionary()


async def _rescore_soon(db: Database, org_id: str, account_id: str) -> None:
    backlog = _backlogs.setdefault(db, _Backlog())
    backlog.accounts[org_id].add(account_id)
    if backlog.draining:
        return  # the drain under way takes it
    backlog.draining = True
    try:
        await asyncio.sleep(RESCORE_GATHER_S)
        while backlog.accounts:
            org, ids = backlog.accounts.popitem()
            await rescore_accounts(db, org, sorted(ids))
    finally:
        backlog.draining = False


async def rescore_accounts(db: Database, org_id: str, account_ids: Sequence[str]) -> int:
    """Rescore some accounts of one organization without holding up live calls.

    The inputs are read on an ordinary connection (on SQLite, the driver's thread:
    the count over the organization's accounts does not run on the event loop) and
    the scores written in one short transaction. A score computed meanwhile from
    fresher inputs (an operator's change) is left as it is. Returns how many were
    written or skipped as already fresher; unknown ids are ignored.
    """
    started = utcnow()
    async with db.read() as conn:
        rows = list(
            await conn.execute(
                select(accounts).where(
                    accounts.c.org_id == org_id, accounts.c.id.in_(list(account_ids))
                )
            )
        )
        if not rows:
            return 0
        saved, _ = await _score_rows(conn, org_id, rows, counting_ranker(conn, org_id), started)
    with db.short_statements():
        async with db.transaction() as conn:
            await _save(conn, org_id, saved, unless_newer=True)
    return len(saved)


async def recalculate_organization(
    db: Database, org_id: str, *, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE
) -> int:
    """Rescore every account of the organization; returns how many were scored."""
    now = now or utcnow()
    async with db.read() as conn:
        ranker = await sorted_ranker(conn, org_id)
    done, after = 0, ""
    while True:
        async with db.transaction() as conn:
            rows = list(
                await conn.execute(
                    select(accounts)
                    .where(accounts.c.org_id == org_id, accounts.c.id > after)
                    .order_by(accounts.c.id)
                    .limit(batch_size)
                )
            )
            if not rows:
                break
            await _score_batch(conn, org_id, rows, ranker, now)
        done += len(rows)
        after = rows[-1].id
    log.info("priority.recalculated_organization", org_id=org_id, accounts=done)
    return done


async def _score_batch(
    conn: AsyncConnection,
    org_id: str,
    rows: Sequence[Row[*tuple[Any, ...]]],
    ranker: Ranker,
    now: dt.datetime | None,
) -> list[Priority]:
    now = now or utcnow()
    saved, out = await _score_rows(conn, org_id, rows, ranker, now)
    await _save(conn, org_id, saved)
    return out


async def _score_rows(
    conn: AsyncConnection,
    org_id: str,
    rows: Sequence[Row[*tuple[Any, ...]]],
    ranker: Ranker,
    now: dt.datetime,
) -> tuple[list[dict[str, Any]], list[Priority]]:
    """Score the rows from their inputs as read on ``conn``: (rows to save, priorities)."""
    today = now.date()
    ids = [r.id for r in rows]
    people = await _contacts(conn, org_id, {r.contact_id for r in rows})
    history = await _promises(conn, org_id, ids, today)
    willingness = await _willingness(conn, org_id, ids, now)
    out, saved = [], []
    for row in rows:
        person = people.get(row.contact_id, _NOBODY)
        kept, broken, pending = history.get(row.id, (0, 0, False))
        inputs = ScoreInputs(
            status=row.status,
            pending_balance=row.pending_balance,
            balance_rank=await ranker(row.currency, row.pending_balance),
            days_past_due=(today - row.due_date).days if row.due_date else None,
            promises_kept=kept,
            promises_broken=broken,
            promise_pending=pending,
            opted_out=person.opted_out,
            valid_numbers=person.valid,
            bad_numbers=person.bad,
            has_email=person.has_email,
            willingness=tuple(willingness.get(row.id, ())),
            currency=row.currency,
        )
        result = score(inputs)
        saved.append(_saved(row.id, result, now))
        out.append(priority_of(result, now))
    return saved, out


def priority_of(result: Score, at: dt.datetime) -> Priority:
    return Priority(
        score=result.score,
        factors=[
            Factor(name=f.name, weight=f.weight, value=f.value, points=f.points, detail=f.detail)
            for f in result.factors
        ],
        blocked_by=result.blocked_by,
        computed_at=at,
    )


def stored_priority(score_: int | None, factors: Any, at: dt.datetime | None) -> Priority:
    """The priority as saved on the account row (empty until first computed)."""
    data = factors if isinstance(factors, dict) else {}
    return Priority(
        score=score_,
        factors=[Factor.model_validate(f) for f in data.get("factors", [])],
        blocked_by=data.get("blocked_by"),
        computed_at=at,
    )


def _saved(account_id: str, result: Score, at: dt.datetime) -> dict[str, Any]:
    factors = {
        "version": FORMAT_VERSION,
        "blocked_by": result.blocked_by,
        "factors": [
            {
                "name": f.name,
                "weight": f.weight,
                "value": f.value,
                "points": f.points,
                "detail": f.detail,
            }
            for f in result.factors
        ],
    }
    return {"b_id": account_id, "b_score": result.score, "b_factors": factors, "b_at": at}


async def _save(
    conn: AsyncConnection, org_id: str, saved: list[dict[str, Any]], *, unless_newer: bool = False
) -> None:
    """One statement, executed for every account of the batch.

    ``unless_newer``: leave an account whose score was computed after this one's inputs
    were read (a score read outside the writing transaction must not overwrite a
    fresher one).
    """
    if not saved:
        return
    where = [accounts.c.id == bindparam("b_id"), accounts.c.org_id == org_id]
    if unless_newer:
        computed = accounts.c.priority_computed_at
        where.append(or_(computed.is_(None), computed <= bindparam("b_at", type_=computed.type)))
    await conn.execute(
        update(accounts)
        .where(*where)
        # a rescore is not an edit of the account: updated_at stays as it was
        .values(
            priority_score=bindparam("b_score"),
            priority_factors=bindparam("b_factors", type_=accounts.c.priority_factors.type),
            priority_computed_at=bindparam("b_at", type_=accounts.c.priority_computed_at.type),
            updated_at=accounts.c.updated_at,
        ),
        saved,
    )


@dataclass(frozen=True, slots=True)
class _Person:
    opted_out: bool
    valid: int
    bad: int
    has_email: bool


_NOBODY = _Person(False, 0, 0, False)


async def _contacts(conn: AsyncConnection, org_id: str, ids: set[str]) -> dict[str, _Person]:
    """Opt-out, email and numbers per contact: the main phone and WhatsApp count as
    valid unless an alternate-number row for the same number says otherwise."""
    states: dict[str, dict[str, str]] = defaultdict(dict)
    for contact_id, number, state in await conn.execute(
        select(contact_phones.c.contact_id, contact_phones.c.number, contact_phones.c.state).where(
            contact_phones.c.org_id == org_id, contact_phones.c.contact_id.in_(ids)
        )
    ):
        states[contact_id][number] = state
    people = {}
    for row in await conn.execute(
        select(
            contacts.c.id,
            contacts.c.opted_out,
            contacts.c.email,
            contacts.c.phone,
            contacts.c.whatsapp,
        ).where(contacts.c.org_id == org_id, contacts.c.id.in_(ids))
    ):
        numbers = dict(states.get(row.id, {}))
        for own in (row.phone, row.whatsapp):
            if own:
                numbers.setdefault(own, "valid")
        valid = sum(1 for s in numbers.values() if s == "valid")
        people[row.id] = _Person(bool(row.opted_out), valid, len(numbers) - valid, bool(row.email))
    return people


async def _promises(
    conn: AsyncConnection, org_id: str, ids: list[str], today: dt.date
) -> dict[str, tuple[int, int, bool]]:
    """(kept, broken, pending) per account."""
    counts: dict[str, list[Any]] = defaultdict(lambda: [0, 0, False])
    for account_id, status, due in await conn.execute(
        select(promises.c.account_id, promises.c.status, promises.c.due_date).where(
            promises.c.org_id == org_id, promises.c.account_id.in_(ids)
        )
    ):
        entry = counts[account_id]
        if status == "kept":
            entry[0] += 1
        elif status == "broken" or (status == "active" and due < today):
            entry[1] += 1
        elif status == "active":
            entry[2] = True
    return {k: (v[0], v[1], v[2]) for k, v in counts.items()}


async def _willingness(
    conn: AsyncConnection, org_id: str, ids: list[str], now: dt.datetime
) -> dict[str, list[int]]:
    """Recent willingness values per account, newest first."""
    when = func.coalesce(interactions.c.started_at, interactions.c.created_at)
    out: dict[str, list[int]] = defaultdict(list)
    for account_id, value in await conn.execute(
        select(interactions.c.account_id, interactions.c.willingness)
        .where(
            interactions.c.org_id == org_id,
            interactions.c.account_id.in_(ids),
            interactions.c.willingness.is_not(None),
            when >= now - RECENT_WILLINGNESS,
        )
        .order_by(interactions.c.account_id, when.desc(), interactions.c.id.desc())
    ):
        out[account_id].append(int(value))
    return out
