"""Messages of an account or a contact, on every channel: the timeline's and the agent's.

:func:`recent_messages` is what the call context reads to tell the agent "a debt
summary was sent by WhatsApp an hour ago and read" or "the debtor replied by SMS".
Each :class:`~.models.MessageView` has a ``summary`` free of amounts and personal
data (safe before the caller's identity is verified) and the ``content`` itself.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.messaging.models import MessageView
from backoffice.messaging.store import view
from backoffice.store.tables import messages


async def recent_messages(
    conn: AsyncConnection,
    *,
    org_id: str,
    since: dt.datetime,
    account_id: str | None = None,
    contact_id: str | None = None,
    limit: int = 20,
) -> list[MessageView]:
    """Messages since ``since`` (inclusive), newest first, of the account and/or contact.

    With both given, a message about the account *or* to/from the contact counts
    (a reply not yet linked to an account is the contact's). Another organization's
    messages never appear.

    Raises:
        ValueError: neither ``account_id`` nor ``contact_id`` given, or naive ``since``.
    """
    if account_id is None and contact_id is None:
        raise ValueError("give account_id or contact_id")
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    scope = []
    if account_id is not None:
        scope.append(messages.c.account_id == account_id)
    if contact_id is not None:
        scope.append(messages.c.contact_id == contact_id)
    rows = await conn.execute(
        select(messages)
        .where(messages.c.org_id == org_id, messages.c.created_at >= since, or_(*scope))
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(limit)
    )
    return [view(r) for r in rows]


async def account_messages(
    conn: AsyncConnection, *, org_id: str, account_id: str, page: int, page_size: int
) -> tuple[list[MessageView], int]:
    """One page of an account's messages, newest first, and how many there are."""
    where = (messages.c.org_id == org_id, messages.c.account_id == account_id)
    total = (await conn.execute(select(func.count()).select_from(messages).where(*where))).scalar()
    rows = await conn.execute(
        select(messages)
        .where(*where)
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return [view(r) for r in rows], int(total or 0)
