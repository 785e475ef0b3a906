"""Test data for the accounts tests, written with direct Core inserts.

Each helper writes one row with sensible defaults and returns its id; keyword
arguments override any column.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert

from backoffice.orgs.models import Organization, OrganizationInput
from backoffice.orgs.service import create_organization
from backoffice.store.db import Database
from backoffice.store.tables import (
    accounts,
    callback_requests,
    contact_phones,
    contacts,
    debt_items,
    disputes,
    interactions,
    new_id,
    promises,
    utcnow,
)

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


async def make_org(db: Database, name: str = "Acme Collections") -> Organization:
    return await create_organization(
        db,
        OrganizationInput(name=name, country="US", locale="en-US", timezone="America/New_York"),
    )


async def _insert(db: Database, table: Table, values: dict[str, Any]) -> str:
    values.setdefault("id", new_id())
    async with db.transaction() as conn:
        await conn.execute(insert(table).values(**values))
    return str(values["id"])


async def make_contact(db: Database, org_id: str, name: str = "Ana García", **kw: Any) -> str:
    now = kw.pop("created_at", utcnow())
    values = {
        "org_id": org_id,
        "name": name,
        "phone": "+12125550100",
        "email": None,
        "opted_out": False,
        "created_at": now,
        "updated_at": now,
    }
    return await _insert(db, contacts, values | kw)


async def make_account(
    db: Database,
    org_id: str,
    contact_id: str,
    *,
    balance: str | Decimal = "1000.00",
    **kw: Any,
) -> str:
    now = kw.pop("created_at", utcnow())
    values = {
        "org_id": org_id,
        "contact_id": contact_id,
        "external_id": None,
        "reference": None,
        "total_amount": Decimal(balance),
        "pending_balance": Decimal(balance),
        "currency": "USD",
        "status": "new",
        "created_at": now,
        "updated_at": kw.pop("updated_at", now),
    }
    return await _insert(db, accounts, values | kw)


async def make_phone(
    db: Database, org_id: str, contact_id: str, number: str, state: str = "valid", **kw: Any
) -> str:
    values = {
        "org_id": org_id,
        "contact_id": contact_id,
        "number": number,
        "state": state,
        "source": "import",
        "created_at": utcnow(),
    }
    return await _insert(db, contact_phones, values | kw)


async def make_interaction(db: Database, org_id: str, account_id: str, **kw: Any) -> str:
    started = kw.pop("started_at", utcnow())
    values = {
        "org_id": org_id,
        "account_id": account_id,
        "channel": "voice",
        "direction": "outbound",
        "status": "completed",
        "started_at": started,
        "created_at": started,
    }
    return await _insert(db, interactions, values | kw)


async def make_promise(
    db: Database, org_id: str, account_id: str, due: dt.date, status: str = "active", **kw: Any
) -> str:
    values = {
        "org_id": org_id,
        "account_id": account_id,
        "amount": Decimal("100.00"),
        "currency": "USD",
        "due_date": due,
        "status": status,
        "source": "agent",
        "created_at": utcnow(),
    }
    return await _insert(db, promises, values | kw)


async def make_dispute(db: Database, org_id: str, account_id: str, **kw: Any) -> str:
    values = {
        "org_id": org_id,
        "account_id": account_id,
        "reason": "not my debt",
        "status": "open",
        "source": "agent",
        "created_at": utcnow(),
    }
    return await _insert(db, disputes, values | kw)


async def make_callback(db: Database, org_id: str, account_id: str, **kw: Any) -> str:
    values = {
        "org_id": org_id,
        "account_id": account_id,
        "scheduled_for": utcnow() + dt.timedelta(days=1),
        "status": "pending",
        "source": "agent",
        "created_at": utcnow(),
    }
    return await _insert(db, callback_requests, values | kw)


async def make_debt_item(
    db: Database, org_id: str, account_id: str, kind: str, amount: str, **kw: Any
) -> str:
    values = {
        "org_id": org_id,
        "account_id": account_id,
        "kind": kind,
        "amount": Decimal(amount),
        "state": "applied",
        "created_at": utcnow(),
    }
    return await _insert(db, debt_items, values | kw)
