"""The organization's do-not-contact numbers, kept whether or not a contact has them.

Opting out *by phone* (bulk, DNC upload, the agent, the portal) is a promise about the
number, not about today's contacts: a contact imported later with a listed number must
be refused all the same. :func:`listed_numbers` is what the contact check consults.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice import audit
from backoffice.errors import NotFound
from backoffice.store.tables import contact_phones, contacts, dnc_numbers, new_id, utcnow

PHONE_CHANNELS = frozenset({"call", "sms", "whatsapp"})


@dataclass(frozen=True, slots=True)
class DncNumber:
    number: str
    reason: str
    source: str
    actor: str
    created_at: dt.datetime


async def remember(
    conn: AsyncConnection,
    *,
    org_id: str,
    numbers: Iterable[str],
    reason: str,
    source: str,
    actor: str,
) -> int:
    """List E.164 ``numbers`` (already listed ones keep their first reason).

    Returns:
        How many numbers were newly listed.
    """
    wanted = sorted(set(numbers))
    if not wanted:
        return 0
    present = {
        n
        for (n,) in await conn.execute(
            select(dnc_numbers.c.number).where(
                dnc_numbers.c.org_id == org_id, dnc_numbers.c.number.in_(wanted)
            )
        )
    }
    rows = [
        {
            "id": new_id(),
            "org_id": org_id,
            "number": n,
            "reason": reason,
            "source": source,
            "actor": actor,
            "created_at": utcnow(),
        }
        for n in wanted
        if n not in present
    ]
    if rows:
        await conn.execute(insert(dnc_numbers), rows)
    return len(rows)


async def listed_numbers(conn: AsyncConnection, *, org_id: str, contact_id: str) -> list[str]:
    """The contact's numbers (phone, WhatsApp, alternates) that are on the list."""
    numbers = union_all(
        select(contacts.c.phone.label("number")).where(
            contacts.c.id == contact_id, contacts.c.org_id == org_id
        ),
        select(contacts.c.whatsapp).where(contacts.c.id == contact_id, contacts.c.org_id == org_id),
        select(contact_phones.c.number).where(
            contact_phones.c.contact_id == contact_id, contact_phones.c.org_id == org_id
        ),
    ).subquery()
    rows = await conn.execute(
        select(dnc_numbers.c.number)
        .where(dnc_numbers.c.org_id == org_id, dnc_numbers.c.number.in_(select(numbers.c.number)))
        .order_by(dnc_numbers.c.number)
    )
    return [n for (n,) in rows]


async def listed(conn: AsyncConnection, *, org_id: str, numbers: Iterable[str]) -> list[str]:
    """Which of ``numbers`` (E.164) are on the list: for a contact parley does not hold
    (an account in the organization's own system of record)."""
    wanted = sorted(set(numbers))
    if not wanted:
        return []
    rows = await conn.execute(
        select(dnc_numbers.c.number).where(
            dnc_numbers.c.org_id == org_id, dnc_numbers.c.number.in_(wanted)
        )
    )
    return sorted(n for (n,) in rows)


async def list_page(
    conn: AsyncConnection, *, org_id: str, page: int, page_size: int
) -> tuple[list[DncNumber], int]:
    total = (
        await conn.execute(
            select(func.count()).select_from(dnc_numbers).where(dnc_numbers.c.org_id == org_id)
        )
    ).scalar_one()
    rows = await conn.execute(
        select(dnc_numbers)
        .where(dnc_numbers.c.org_id == org_id)
        .order_by(dnc_numbers.c.created_at.desc(), dnc_numbers.c.number)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    items = [DncNumber(r.number, r.reason, r.source, r.actor, r.created_at) for r in rows]
    return items, int(total)


async def forget(
    conn: AsyncConnection, *, org_id: str, number: str, actor: str, reason: str
) -> None:
    """Take a number off the list (audited). Raises: NotFound."""
    result = await conn.execute(
        delete(dnc_numbers).where(dnc_numbers.c.org_id == org_id, dnc_numbers.c.number == number)
    )
    if result.rowcount == 0:
        raise NotFound("listed number")
    await audit.record(
        conn,
        org_id=org_id,
        actor=actor,
        action="dnc.removed",
        entity_type="phone",
        entity_id=number,
        reason=reason,
    )
