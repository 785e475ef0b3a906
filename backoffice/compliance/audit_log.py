"""Reading the audit log: one organization's entries, newest first.

Writing stays in :mod:`backoffice.audit` (inside each change's transaction); this is
the other half, for the people who must show what happened. Entries of another
organization are never returned, whatever filter is given.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.store.tables import audit_log


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    at: dt.datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    reason: str | None
    detail: dict[str, Any] | None


async def list_entries(
    conn: AsyncConnection,
    *,
    org_id: str,
    entity_type: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[AuditEntry], int]:
    """One page of the organization's entries matching every filter given, and the
    total that match."""
    c = audit_log.c
    where = [c.org_id == org_id]
    if entity_type:
        where.append(c.entity_type == entity_type)
    if entity_id:
        where.append(c.entity_id == entity_id)
    if action:
        where.append(c.action == action)
    total = (await conn.execute(select(func.count()).select_from(audit_log).where(*where))).scalar()
    rows = await conn.execute(
        select(c.id, c.at, c.actor, c.action, c.entity_type, c.entity_id, c.reason, c.detail)
        .where(*where)
        .order_by(c.at.desc(), c.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return [AuditEntry(*row) for row in rows], int(total or 0)
