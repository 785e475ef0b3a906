"""The append-only audit log: who did what to which record, when and why.

Written inside the same transaction as the change it records, so a change and its
audit entry exist together or not at all. The database refuses updates and deletes
of this table (see the initial migration).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.store.tables import audit_log, new_id, utcnow


async def record(
    conn: AsyncConnection,
    *,
    org_id: str,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry. ``actor`` names a person, key or system part (``api:ops``,
    ``agent:<call_sid>``, ``portal``, ``import``); never put secrets in ``detail``."""
    await conn.execute(
        _APPEND,
        {
            "id": new_id(),
            "org_id": org_id,
            "actor": actor,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "reason": reason,
            "detail": detail,
            "at": utcnow(),
        },
    )


# Built once, values given at execution: every agent action appends an entry.
_APPEND = insert(audit_log)
