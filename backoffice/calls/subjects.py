"""Reading the built-in store for a call: the account's subject, the caller's matches.

Scoped to one organization in every query: an account or contact of another
organization is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, bindparam, case, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.calls.models import Balance, CallSubject, PhoneInfo, PromiseInfo
from backoffice.errors import NotFound
from backoffice.store.tables import accounts, contact_phones, contacts, debt_items, promises

# Accounts a caller may be calling about, in the order an agent should ask about them.
_WORKABLE_FIRST = case(
    (accounts.c.status.in_(("paid", "closed")), 1),
    else_=0,
)


def _subject_query() -> Select[Any]:
    return select(
        accounts.c.id,
        accounts.c.reference,
        accounts.c.pending_balance,
        accounts.c.total_amount,
        accounts.c.currency,
        accounts.c.due_date,
        accounts.c.status,
        contacts.c.id.label("contact_id"),
        contacts.c.name,
        contacts.c.language,
        contacts.c.timezone,
        contacts.c.opted_out,
        contacts.c.email,
        contacts.c.phone,
        contacts.c.whatsapp,
    ).join(contacts, contacts.c.id == accounts.c.contact_id)


# The statements a live call runs on every tool call, built once: building a select
# costs more than running it.
_PHONES = (
    select(
        contact_phones.c.number,
        contact_phones.c.state,
        contact_phones.c.source,
        contact_phones.c.consecutive_failures,
        contact_phones.c.last_attempt_at,
    )
    .where(
        contact_phones.c.org_id == bindparam("s_org"),
        contact_phones.c.contact_id == bindparam("s_contact"),
    )
    .order_by(contact_phones.c.created_at, contact_phones.c.id)
)
_SUBJECT = _subject_query().where(
    accounts.c.org_id == bindparam("s_org"),
    or_(accounts.c.id == bindparam("s_ref"), accounts.c.external_id == bindparam("s_ref")),
)
_BALANCE = select(
    accounts.c.id,
    accounts.c.pending_balance,
    accounts.c.total_amount,
    accounts.c.currency,
    accounts.c.due_date,
    accounts.c.status,
).where(accounts.c.org_id == bindparam("s_org"), accounts.c.id == bindparam("s_account"))
_ITEMS = (
    select(debt_items.c.kind, debt_items.c.amount)
    .where(
        debt_items.c.org_id == bindparam("s_org"),
        debt_items.c.account_id == bindparam("s_account"),
        debt_items.c.state != "cancelled",
    )
    .order_by(debt_items.c.date, debt_items.c.created_at)
)
_ACTIVE_PROMISE = (
    select(promises.c.amount, promises.c.currency, promises.c.due_date)
    .where(
        promises.c.org_id == bindparam("s_org"),
        promises.c.account_id == bindparam("s_account"),
        promises.c.status == "active",
    )
    .order_by(promises.c.created_at.desc())
    .limit(1)
)
_IDENTITY = (
    select(contacts.c.document_last4, contacts.c.date_of_birth)
    .join(accounts, accounts.c.contact_id == contacts.c.id)
    .where(accounts.c.org_id == bindparam("s_org"), accounts.c.id == bindparam("s_account"))
)
_TIMEZONE = (
    select(contacts.c.timezone)
    .join(accounts, accounts.c.contact_id == contacts.c.id)
    .where(accounts.c.org_id == bindparam("s_org"), accounts.c.id == bindparam("s_account"))
)


async def _phones(conn: AsyncConnection, org_id: str, contact_id: str) -> tuple[PhoneInfo, ...]:
    rows = await conn.execute(_PHONES, {"s_org": org_id, "s_contact": contact_id})
    return tuple(PhoneInfo(**dict(r._mapping)) for r in rows)


def _with_main_numbers(
    phones: tuple[PhoneInfo, ...], main: str | None, whatsapp: str | None
) -> tuple[PhoneInfo, ...]:
    """The contact's main phone first, then the filed numbers, then a WhatsApp-only one.

    Imports file the main phone among the numbers too; a contact created otherwise may
    only have it on the contact, and it is still the first to try.
    """
    ordered = sorted(phones, key=lambda p: p.number != main)
    numbers = {p.number for p in ordered}
    if main and main not in numbers:
        ordered.insert(0, PhoneInfo(main, source="contact"))
    if whatsapp and whatsapp not in numbers and whatsapp != main:
        ordered.append(PhoneInfo(whatsapp, source="contact"))
    return tuple(ordered)


async def _subject(conn: AsyncConnection, org_id: str, row: Any) -> CallSubject:
    phones = await _phones(conn, org_id, row.contact_id)
    return CallSubject(
        account_ref=row.id,
        contact_id=row.contact_id,
        contact_name=row.name,
        language=row.language,
        timezone=row.timezone,
        phones=_with_main_numbers(phones, row.phone, row.whatsapp),
        pending_balance=row.pending_balance,
        total_amount=row.total_amount,
        currency=row.currency,
        due_date=row.due_date,
        status=row.status,
        reference=row.reference,
        opted_out=bool(row.opted_out),
        email=row.email,
        whatsapp=row.whatsapp,
    )


async def call_subject(conn: AsyncConnection, org_id: str, account_ref: str) -> CallSubject:
    """The account by id or external id. Raises: NotFound."""
    row = (await conn.execute(_SUBJECT, {"s_org": org_id, "s_ref": account_ref})).first()
    if row is None:
        raise NotFound("account")
    return await _subject(conn, org_id, row)


async def match_caller(conn: AsyncConnection, org_id: str, number: str) -> list[CallSubject]:
    """Accounts of every contact reachable at ``number``: workable ones first, then by
    priority (the agent asks about the most urgent first)."""
    by_phone = select(contact_phones.c.contact_id).where(
        contact_phones.c.org_id == org_id, contact_phones.c.number == number
    )
    rows = await conn.execute(
        _subject_query()
        .where(
            accounts.c.org_id == org_id,
            or_(
                contacts.c.id.in_(by_phone),
                contacts.c.phone == number,
                contacts.c.whatsapp == number,
            ),
        )
        .order_by(_WORKABLE_FIRST, accounts.c.priority_score.desc().nulls_last(), accounts.c.id)
        .limit(20)
    )
    return [await _subject(conn, org_id, row) for row in rows.all()]


async def balance_of(conn: AsyncConnection, org_id: str, account_id: str) -> Balance:
    """Raises: NotFound."""
    bound = {"s_org": org_id, "s_account": account_id}
    row = (await conn.execute(_BALANCE, bound)).first()
    if row is None:
        raise NotFound("account")
    items = await conn.execute(_ITEMS, bound)
    totals: dict[str, Decimal] = {}
    for item in items:
        totals[item.kind] = totals.get(item.kind, Decimal("0")) + item.amount
    return Balance(
        account_ref=row.id,
        pending_balance=row.pending_balance,
        total_amount=row.total_amount,
        currency=row.currency,
        due_date=row.due_date,
        status=row.status,
        items=tuple(totals.items()),
        active_promise=await active_promise(conn, org_id, account_id),
    )


async def active_promise(conn: AsyncConnection, org_id: str, account_id: str) -> PromiseInfo | None:
    row = (await conn.execute(_ACTIVE_PROMISE, {"s_org": org_id, "s_account": account_id})).first()
    return None if row is None else PromiseInfo(row.amount, row.currency, row.due_date)


async def identity_facts(
    conn: AsyncConnection, org_id: str, account_id: str
) -> tuple[str | None, dt.date | None]:
    """The stored last four digits and date of birth of the account's debtor.

    Only the identity check reads these; they never leave the backoffice.
    """
    row = (await conn.execute(_IDENTITY, {"s_org": org_id, "s_account": account_id})).first()
    if row is None:
        raise NotFound("account")
    return row.document_last4, row.date_of_birth


async def contact_timezone(conn: AsyncConnection, org_id: str, account_id: str) -> str | None:
    """The time zone of the account's debtor (None: the organization's applies).

    Raises: NotFound.
    """
    row = (await conn.execute(_TIMEZONE, {"s_org": org_id, "s_account": account_id})).first()
    if row is None:
        raise NotFound("account")
    timezone: str | None = row.timezone
    return timezone
