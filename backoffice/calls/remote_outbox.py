"""The remote system of record's outbox: call reports the partner did not take in time.

``call_started`` and ``record_outcome`` must not hold up the call or the webhook
behind them, so they get one bounded attempt (retries included). When the partner
is down or answers 5xx, the report is kept here and sent again, with the same
``Idempotency-Key`` (the partner stores it once however often it arrives), at growing
intervals (:func:`backoff`) until the partner takes it, refuses it (an answer below
500: sending it again would not help) or it is :data:`GIVE_UP` old. Every gateway
process may run :func:`resend_due`; a report is claimed before it is sent, so two
processes do not send it at the same moment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from backoffice.calls.remote_replies import PushOutcome
from backoffice.store.db import Database
from backoffice.store.tables import new_id, partner_pushes, utcnow

log = structlog.get_logger(__name__)

FIRST_RETRY = dt.timedelta(seconds=30)
MAX_RETRY = dt.timedelta(minutes=30)
GIVE_UP = dt.timedelta(days=2)
BATCH = 50


def backoff(attempts: int) -> dt.timedelta:
    """The wait before the next attempt after ``attempts`` failed ones: 30 s, doubling,
    at most 30 minutes."""
    wait: dt.timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, MAX_RETRY)


@dataclass(frozen=True, slots=True)
class Push:
    """A kept report, as it is sent again."""

    id: str
    org_id: str
    call_sid: str
    account_ref: str | None
    what: str
    action: str
    body: dict[str, Any]
    attempts: int
    created_at: dt.datetime


class Resender(Protocol):
    async def resend(self, push: Push) -> PushOutcome: ...


#: The organization's current remote adapter, or None when it no longer uses one.
ResenderFor = Callable[[str], Awaitable[Resender | None]]


async def keep(
    db: Database,
    *,
    org_id: str,
    call_sid: str,
    account_ref: str | None,
    what: str,
    action: str,
    body: dict[str, Any],
    now: dt.datetime | None = None,
) -> None:
    """Keep a report the partner did not take (the same report twice is kept once)."""
    now = now or utcnow()
    try:
        async with db.transaction() as conn:
            await conn.execute(
                insert(partner_pushes),
                {
                    "id": new_id(),
                    "org_id": org_id,
                    "call_sid": call_sid,
                    "account_ref": account_ref,
                    "what": what,
                    "action": action,
                    "body": body,
                    "state": "pending",
                    "attempts": 1,
                    "next_attempt_at": now + backoff(1),
                    "created_at": now,
                },
            )
    except IntegrityError:
        return  # already kept
    log.info("partner.push_kept", org_id=org_id, call_sid=call_sid, what=what)


async def resend_due(
    db: Database, resender_for: ResenderFor, now: dt.datetime | None = None
) -> int:
    """Send again the kept reports that are due; returns how many the partner took."""
    now = now or utcnow()
    async with db.read() as conn:
        rows = (
            await conn.execute(
                select(partner_pushes)
                .where(partner_pushes.c.state == "pending", partner_pushes.c.next_attempt_at <= now)
                .order_by(partner_pushes.c.next_attempt_at)
                .limit(BATCH)
            )
        ).all()
    delivered = 0
    for row in rows:
        push = Push(
            row.id,
            row.org_id,
            row.call_sid,
            row.account_ref,
            row.what,
            row.action,
            dict(row.body),
            row.attempts,
            row.created_at,
        )
        if not await _claim(db, push, row.next_attempt_at, now):
            continue  # another process took it
        resender = await resender_for(push.org_id)
        if resender is None:
            await _finish(db, push, "abandoned", "the organization no longer uses its own system")
            continue
        outcome = await resender.resend(push)
        if outcome == "delivered":
            delivered += 1
            await _finish(db, push, "delivered", None)
        elif outcome == "refused":
            await _finish(db, push, "refused", "the partner refused it")
        elif now - push.created_at >= GIVE_UP:
            await _finish(db, push, "abandoned", f"not taken after {push.attempts + 1} attempts")
    return delivered


async def _claim(db: Database, push: Push, due_at: dt.datetime, now: dt.datetime) -> bool:
    """Count the attempt and move the next one on, if nobody did meanwhile."""
    attempts = push.attempts + 1
    async with db.transaction() as conn:
        result = await conn.execute(
            update(partner_pushes)
            .where(
                partner_pushes.c.id == push.id,
                partner_pushes.c.state == "pending",
                partner_pushes.c.next_attempt_at == due_at,
            )
            .values(attempts=attempts, next_attempt_at=now + backoff(attempts))
        )
    return bool(result.rowcount)


async def _finish(db: Database, push: Push, state: str, why: str | None) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            update(partner_pushes)
            .where(partner_pushes.c.id == push.id)
            .values(state=state, last_error=why, finished_at=utcnow())
        )
    event = "partner.push_delivered" if state == "delivered" else "partner.push_" + state
    (log.info if state == "delivered" else log.warning)(
        event, org_id=push.org_id, call_sid=push.call_sid, what=push.what, why=why
    )
