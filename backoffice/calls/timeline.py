"""The account timeline: what happened within an interaction, in an operator's words.

Each agent action writes one entry in the same transaction as the action itself, so
the timeline never shows a promise that was not stored, nor misses one that was.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.store.tables import interaction_events, new_id, utcnow


async def add_event(
    conn: AsyncConnection,
    *,
    org_id: str,
    account_id: str | None,
    interaction_id: str | None,
    kind: str,
    summary: str,
    actor: str,
    detail: dict[str, Any] | None = None,
) -> str:
    event_id = new_id()
    await conn.execute(
        insert(interaction_events),
        {
            "id": event_id,
            "org_id": org_id,
            "account_id": account_id,
            "interaction_id": interaction_id,
            "kind": kind,
            "summary": summary[:500],
            "detail": detail,
            "actor": actor,
            "at": utcnow(),
        },
    )
    return event_id


async def events_of_account(
    conn: AsyncConnection, org_id: str, account_id: str, limit: int = 200
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(
            interaction_events.c.id,
            interaction_events.c.interaction_id,
            interaction_events.c.kind,
            interaction_events.c.summary,
            interaction_events.c.detail,
            interaction_events.c.actor,
            interaction_events.c.at,
        )
        .where(
            interaction_events.c.org_id == org_id,
            interaction_events.c.account_id == account_id,
        )
        .order_by(interaction_events.c.at.desc(), interaction_events.c.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]
