"""Debt items (capital, interest, fees, payments): add, edit, and keep the balance true.

Every change, in the caller's transaction: lock the account, write the item, recompute
the pending balance by the rule in :mod:`backoffice.accounts.ledger`, audit the change
with the balance before and after, and rescore the account's priority. Items are in
the account's currency; a body naming another currency is refused, never converted.
A cancelled item is history and cannot be edited (add a new one instead).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal, NamedTuple

import structlog
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice import audit
from backoffice.accounts import priority
from backoffice.accounts.ledger import OPENING_BALANCE, ledger_balance, needs_opening_balance
from backoffice.accounts.models import DebtItem, DebtItemChange
from backoffice.accounts.repository import account_row
from backoffice.errors import Conflict, FieldError, InvalidInput, NotFound
from backoffice.store.tables import accounts, debt_items, new_id, utcnow

log = structlog.get_logger(__name__)

Kind = Literal["capital", "interest", "fees", "payment"]
State = Literal["pending", "applied", "cancelled"]


def _currency(value: str | None) -> str | None:
    return value.upper() if value else None


class DebtItemInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    amount: Decimal = Field(gt=0, max_digits=16, decimal_places=2, description='e.g. "125.50"')
    currency: str | None = Field(
        default=None, description="ISO 4217; if given, must be the account's currency."
    )
    date: dt.date | None = None
    state: State = "pending"
    description: str | None = Field(default=None, max_length=500)

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return _currency(value)


CLEARABLE = frozenset({"date", "description"})


class DebtItemPatch(BaseModel):
    """Only the fields given change; ``null`` clears ``date`` or ``description`` and
    leaves any other field as it is."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = None
    amount: Decimal | None = Field(default=None, gt=0, max_digits=16, decimal_places=2)
    currency: str | None = None
    date: dt.date | None = None
    state: State | None = None
    description: str | None = Field(default=None, max_length=500)

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return _currency(value)


def _item(row: Row[*tuple[Any, ...]], currency: str) -> DebtItem:
    return DebtItem(
        id=row.id,
        account_id=row.account_id,
        kind=row.kind,
        amount=row.amount,
        currency=currency,
        date=row.date,
        state=row.state,
        description=row.description,
        created_at=row.created_at,
    )


async def items_of(
    conn: AsyncConnection, org_id: str, account_id: str, currency: str
) -> list[DebtItem]:
    """The account's items, oldest first (by date, then by when they were entered)."""
    rows = await conn.execute(
        select(debt_items)
        .where(debt_items.c.account_id == account_id, debt_items.c.org_id == org_id)
        .order_by(debt_items.c.date.asc().nulls_last(), debt_items.c.created_at, debt_items.c.id)
    )
    return [_item(r, currency) for r in rows]


def _check_currency(given: str | None, account_currency: str) -> None:
    if given is not None and given != account_currency:
        raise InvalidInput(
            [FieldError("currency", f"the account is in {account_currency}")],
            "invalid debt item",
        )


async def add_debt_item(
    conn: AsyncConnection,
    *,
    org_id: str,
    account_id: str,
    data: DebtItemInput,
    actor: str,
    now: dt.datetime | None = None,
) -> DebtItemChange:
    """Add an item and recompute the balance (an opening balance first, if the rule says).

    Raises:
        NotFound: the account is not in this organization.
        InvalidInput: the currency is not the account's (field ``currency``).
    """
    now = now or utcnow()
    account = await account_row(conn, org_id, account_id, for_update=True)
    _check_currency(data.currency, account.currency)
    before: Decimal = account.pending_balance
    has_items = bool(await items_of(conn, org_id, account_id, account.currency))
    opening: str | None = None
    if needs_opening_balance(has_items, data.kind, before):
        entry = _New("capital", before, now.date(), "applied", OPENING_BALANCE)
        opening = await _insert(conn, org_id, account_id, entry, now)
    item_id = await _insert(
        conn,
        org_id,
        account_id,
        _New(data.kind, data.amount, data.date, data.state, data.description),
        now,
    )
    after = await _rebalance(conn, org_id, account_id, before, now)
    await audit.record(
        conn,
        org_id=org_id,
        actor=actor,
        action="debt_item.added",
        entity_type="account",
        entity_id=account_id,
        detail={
            "item_id": item_id,
            "kind": data.kind,
            "amount": str(data.amount),
            "state": data.state,
            "currency": account.currency,
            "pending_balance_before": str(before),
            "pending_balance_after": str(after),
            "opening_balance_item_id": opening,
        },
    )
    await priority.recalculate(conn, org_id=org_id, account_id=account_id, now=now)
    log.info("debt_item.added", org_id=org_id, account_id=account_id, kind=data.kind)
    item = await _get(conn, org_id, account_id, item_id)
    return DebtItemChange(
        item=_item(item, account.currency),
        pending_balance_before=before,
        pending_balance_after=after,
        currency=account.currency,
    )


async def update_debt_item(
    conn: AsyncConnection,
    *,
    org_id: str,
    account_id: str,
    item_id: str,
    patch: DebtItemPatch,
    actor: str,
    now: dt.datetime | None = None,
) -> DebtItemChange:
    """Change the given fields of an item and recompute the balance. An empty or
    unchanged patch changes nothing and audits nothing.

    Raises:
        NotFound: the account or the item is not in this organization (or the item is
            another account's).
        InvalidInput: the currency is not the account's (field ``currency``).
        Conflict: the item is cancelled.
    """
    now = now or utcnow()
    account = await account_row(conn, org_id, account_id, for_update=True)
    row = await _get(conn, org_id, account_id, item_id)
    _check_currency(patch.currency, account.currency)
    before: Decimal = account.pending_balance
    wanted = patch.model_dump(exclude_unset=True, exclude={"currency"})
    changes = {
        k: v
        for k, v in wanted.items()
        if (v is not None or k in CLEARABLE) and getattr(row, k) != v
    }
    if not changes:
        return DebtItemChange(
            item=_item(row, account.currency),
            pending_balance_before=before,
            pending_balance_after=before,
            currency=account.currency,
        )
    if row.state == "cancelled":
        raise Conflict("a cancelled debt item cannot be changed; add a new one instead")
    await conn.execute(
        update(debt_items)
        .where(debt_items.c.id == item_id, debt_items.c.org_id == org_id)
        .values(**changes)
    )
    after = await _rebalance(conn, org_id, account_id, before, now)
    await audit.record(
        conn,
        org_id=org_id,
        actor=actor,
        action="debt_item.updated",
        entity_type="account",
        entity_id=account_id,
        detail={
            "item_id": item_id,
            "before": {k: _plain(getattr(row, k)) for k in changes},
            "after": {k: _plain(v) for k, v in changes.items()},
            "currency": account.currency,
            "pending_balance_before": str(before),
            "pending_balance_after": str(after),
        },
    )
    await priority.recalculate(conn, org_id=org_id, account_id=account_id, now=now)
    log.info("debt_item.updated", org_id=org_id, account_id=account_id, fields=sorted(changes))
    return DebtItemChange(
        item=_item(await _get(conn, org_id, account_id, item_id), account.currency),
        pending_balance_before=before,
        pending_balance_after=after,
        currency=account.currency,
    )


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int) else str(value)


async def _get(
    conn: AsyncConnection, org_id: str, account_id: str, item_id: str
) -> Row[*tuple[Any, ...]]:
    row = (
        await conn.execute(
            select(debt_items).where(
                debt_items.c.id == item_id,
                debt_items.c.account_id == account_id,
                debt_items.c.org_id == org_id,
            )
        )
    ).first()
    if row is None:
        raise NotFound("debt item")
    return row


class _New(NamedTuple):
    kind: str
    amount: Decimal
    date: dt.date | None
    state: str
    description: str | None


async def _insert(
    conn: AsyncConnection, org_id: str, account_id: str, new: _New, now: dt.datetime
) -> str:
    item_id = new_id()
    await conn.execute(
        insert(debt_items).values(
            id=item_id, org_id=org_id, account_id=account_id, created_at=now, **new._asdict()
        )
    )
    return item_id


async def _rebalance(
    conn: AsyncConnection, org_id: str, account_id: str, standing: Decimal, now: dt.datetime
) -> Decimal:
    """Apply the ledger rule; returns the pending balance after."""
    rows = await conn.execute(
        select(debt_items.c.kind, debt_items.c.amount, debt_items.c.state).where(
            debt_items.c.account_id == account_id, debt_items.c.org_id == org_id
        )
    )
    balance = ledger_balance((r.kind, r.amount, r.state) for r in rows)
    if balance is None:
        return standing
    await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.org_id == org_id)
        .values(pending_balance=balance, updated_at=now)
    )
    return balance
