"""Rows for tests, written straight into the tables with SQLAlchemy Core.

A test names only what it is about (``make_contact(db, org, timezone="America/
Los_Angeles")``); every other column gets a plain default. A field that is not a
column of the table is a ``TypeError`` naming it, so a typo cannot pass silently.
Each helper commits its row and returns the new id.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert, select

from backoffice.store.db import Database
from backoffice.store.tables import (
    accounts,
    contact_phones,
    contacts,
    debt_items,
    interactions,
    new_id,
    organizations,
    utcnow,
)

_serial = itertools.count(1)


async def _insert(db: Database, table: Table, values: dict[str, Any]) -> str:
    unknown = sorted(set(values) - set(table.c.keys()))
    if unknown:
        raise TypeError(f"{table.name} has no column {', '.join(unknown)}")
    values.setdefault("id", new_id())
    async with db.transaction() as conn:
        await conn.execute(insert(table).values(**values))
    return str(values["id"])


async def make_contact(db: Database, org_id: str, **fields: Any) -> str:
    """A contact of ``org_id``; default: a numbered name and nothing else."""
    now = utcnow()
    values: dict[str, Any] = {
        "name": f"Contact {next(_serial)}",
        "opted_out": False,
        "created_at": now,
        "updated_at": now,
    }
    return await _insert(db, contacts, values | {"org_id": org_id} | fields)


async def make_contact_phone(
    db: Database, org_id: str, contact_id: str, number: str, **fields: Any
) -> str:
    """An alternate number (E.164) of a contact; default state ``valid``."""
    values: dict[str, Any] = {"state": "valid", "source": "test", "created_at": utcnow()}
    return await _insert(
        db,
        contact_phones,
        values | {"org_id": org_id, "contact_id": contact_id, "number": number} | fields,
    )


async def make_account(db: Database, org_id: str, contact_id: str, **fields: Any) -> str:
    """An account of a contact; default: 100.00 in the organization's currency, ``new``.

    ``pending_balance`` defaults to ``total_amount``, as in the product.
    """
    async with db.read() as conn:
        currency = (
            await conn.execute(select(organizations.c.currency).where(organizations.c.id == org_id))
        ).scalar_one()
    now = utcnow()
    total = Decimal(str(fields.get("total_amount", "100.00")))
    values: dict[str, Any] = {
        "total_amount": total,
        "pending_balance": total,
        "currency": currency,
        "status": "new",
        "created_at": now,
        "updated_at": now,
    }
    return await _insert(
        db, accounts, values | {"org_id": org_id, "contact_id": contact_id} | fields
    )


async def make_interaction(
    db: Database,
    org_id: str,
    *,
    account_id: str | None = None,
    contact_id: str | None = None,
    **fields: Any,
) -> str:
    """An interaction; default: a completed outbound call that started now."""
    now = utcnow()
    values: dict[str, Any] = {
        "channel": "call",
        "direction": "outbound",
        "status": "completed",
        "started_at": now,
        "created_at": now,
    }
    scope = {"org_id": org_id, "account_id": account_id, "contact_id": contact_id}
    return await _insert(db, interactions, values | scope | fields)


async def make_debt_item(
    db: Database, org_id: str, account_id: str, kind: str, amount: str, **fields: Any
) -> str:
    """A line of an account's breakdown (capital, interest, fees, payment); ``applied``."""
    values: dict[str, Any] = {"state": "applied", "created_at": utcnow()}
    scope = {"org_id": org_id, "account_id": account_id, "kind": kind, "amount": Decimal(amount)}
    return await _insert(db, debt_items, values | scope | fields)
