"""The backoffice's outbox of domain events, for the strategy engine to act on.

An event is written in the same transaction as the change it reports (a message
marked failed, a reply stored), so the engine never hears of a change that was
rolled back, nor misses one that was committed. The engine reads pending events in
order with :func:`pending` and marks each one done with :func:`consume` once it has
acted; an event consumed by one consumer name is not handed out again.

Kinds written by messaging (payload fields in brackets):

- ``message.failed``: a hard delivery failure [message_id, interaction_id, channel,
  status, address, error_code, error_message]; the debtor was not reached at that
  address, so the strategy should move to its next step or channel.
- ``message.replied``: an inbound message from a known contact [message_id, channel,
  address, opted_out].
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.store.tables import domain_events, new_id, utcnow

MESSAGE_FAILED = "message.failed"
MESSAGE_REPLIED = "message.replied"


@dataclass(frozen=True, slots=True)
class DomainEvent:
    id: str
    org_id: str
    kind: str
    account_id: str | None
    contact_id: str | None
    entity_type: str
    entity_id: str
    payload: dict[str, Any]
    created_at: dt.datetime


async def emit(
    conn: AsyncConnection,
    *,
    org_id: str,
    kind: str,
    entity_type: str,
    entity_id: str,
    payload: dict[str, Any],
    account_id: str | None = None,
    contact_id: str | None = None,
) -> str:
    """Append an event in the caller's transaction; returns its id."""
    event_id = new_id()
    await conn.execute(
        insert(domain_events).values(
            id=event_id,
            org_id=org_id,
            kind=kind,
            account_id=account_id,
            contact_id=contact_id,
            entity_type=entity_type,
            entity_id=entity_id,
            payload=payload,
            created_at=utcnow(),
        )
    )
    return event_id


async def pending(
    conn: AsyncConnection, *, org_id: str, kinds: tuple[str, ...] = (), limit: int = 100
) -> list[DomainEvent]:
    """Events not yet consumed, oldest first (optionally only some kinds)."""
    query = select(domain_events).where(
        domain_events.c.org_id == org_id, domain_events.c.consumed_at.is_(None)
    )
    if kinds:
        query = query.where(domain_events.c.kind.in_(kinds))
    rows = await conn.execute(
        query.order_by(domain_events.c.created_at, domain_events.c.id).limit(limit)
    )
    return [
        DomainEvent(
            r.id,
            r.org_id,
            r.kind,
            r.account_id,
            r.contact_id,
            r.entity_type,
            r.entity_id,
            dict(r.payload),
            r.created_at,
        )
        for r in rows
    ]


async def consume(conn: AsyncConnection, *, org_id: str, event_id: str, consumer: str) -> bool:
    """Mark an event done; False when it was already consumed (by anyone)."""
    result = await conn.execute(
        update(domain_events)
        .where(
            domain_events.c.id == event_id,
            domain_events.c.org_id == org_id,
            domain_events.c.consumed_at.is_(None),
        )
        .values(consumed_at=utcnow(), consumed_by=consumer[:64])
    )
    return bool(result.rowcount)
