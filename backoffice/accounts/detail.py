"""The account page: the account with everything an operator needs to work it.

Contact (document masked), alternate phones, the interaction timeline (newest first,
the latest :data:`TIMELINE_LIMIT`, with the full count), promises, disputes, callback
requests, debt items, the stored priority breakdown, and the status history. All
reads are scoped by ``org_id`` as well as by the account, so a row wrongly attached
to another organization's account could still not show up here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.accounts.contacts import get_contact
from backoffice.accounts.debt_items import items_of
from backoffice.accounts.models import (
    AccountDetail,
    CallbackRequest,
    Disposition,
    Dispute,
    Hardship,
    Interaction,
    InteractionDetail,
    Promise,
    StatusEntry,
    TimelineEvent,
)
from backoffice.accounts.priority import stored_priority
from backoffice.accounts.repository import account_row, get_account
from backoffice.errors import NotFound
from backoffice.store.tables import (
    account_status_history,
    callback_requests,
    disposition_history,
    disputes,
    hardships,
    interaction_events,
    interactions,
    promises,
)

TIMELINE_LIMIT = 100


async def _rows(
    conn: AsyncConnection, table: Table, org_id: str, account_id: str, *order: Any
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(table)
        .where(table.c.account_id == account_id, table.c.org_id == org_id)
        .order_by(*order, table.c.id.desc())
    )
    return [dict(r._mapping) for r in rows]


async def account_detail(conn: AsyncConnection, org_id: str, account_id: str) -> AccountDetail:
    """Raises: NotFound (also for another organization's account)."""
    summary = await get_account(conn, org_id, account_id)
    row = await account_row(conn, org_id, account_id)
    when = func.coalesce(interactions.c.started_at, interactions.c.created_at)
    timeline = await conn.execute(
        select(interactions)
        .where(interactions.c.account_id == account_id, interactions.c.org_id == org_id)
        .order_by(when.desc(), interactions.c.id.desc())
        .limit(TIMELINE_LIMIT)
    )
    count = (
        await conn.execute(
            select(func.count()).where(
                interactions.c.account_id == account_id, interactions.c.org_id == org_id
            )
        )
    ).scalar_one()
    history = await _rows(
        conn, account_status_history, org_id, account_id, account_status_history.c.at.desc()
    )
    return AccountDetail(
        **summary.model_dump(),
        notes=row.notes,
        priority=stored_priority(
            row.priority_score, row.priority_factors, row.priority_computed_at
        ),
        contact=await get_contact(conn, org_id, summary.contact_id),
        interactions=[Interaction.model_validate(dict(r._mapping)) for r in timeline],
        interaction_count=count,
        promises=[
            Promise.model_validate(r)
            for r in await _rows(conn, promises, org_id, account_id, promises.c.created_at.desc())
        ],
        disputes=[
            Dispute.model_validate(r)
            for r in await _rows(conn, disputes, org_id, account_id, disputes.c.created_at.desc())
        ],
        callback_requests=[
            CallbackRequest.model_validate(r)
            for r in await _rows(
                conn,
                callback_requests,
                org_id,
                account_id,
                callback_requests.c.scheduled_for.desc(),
            )
        ],
        hardships=[
            Hardship.model_validate(r)
            for r in await _rows(conn, hardships, org_id, account_id, hardships.c.created_at.desc())
        ],
        debt_items=await items_of(conn, org_id, account_id, summary.currency),
        status_history=[StatusEntry.model_validate(r) for r in history],
        timeline=[
            TimelineEvent.model_validate(r)
            for r in await _rows(
                conn, interaction_events, org_id, account_id, interaction_events.c.at.desc()
            )
        ][:TIMELINE_LIMIT],
        dispositions=[
            Disposition.model_validate(r)
            for r in await _rows(
                conn, disposition_history, org_id, account_id, disposition_history.c.at.desc()
            )
        ],
    )


async def interaction_detail(
    conn: AsyncConnection, org_id: str, account_id: str, interaction_id: str
) -> InteractionDetail:
    """One interaction with its transcript, analysis and events.

    Raises:
        NotFound: no such interaction on this account of this organization.
    """
    row = (
        await conn.execute(
            select(interactions).where(
                interactions.c.org_id == org_id,
                interactions.c.account_id == account_id,
                interactions.c.id == interaction_id,
            )
        )
    ).first()
    if row is None:
        raise NotFound("interaction")
    events = await conn.execute(
        select(interaction_events)
        .where(
            interaction_events.c.org_id == org_id,
            interaction_events.c.interaction_id == interaction_id,
        )
        .order_by(interaction_events.c.at, interaction_events.c.id)
    )
    return InteractionDetail.model_validate(
        {
            **dict(row._mapping),
            "events": [TimelineEvent.model_validate(dict(e._mapping)) for e in events],
        }
    )
