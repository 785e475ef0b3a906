"""Storing account records: a batched upsert on (org_id, external_id).

One call writes one batch inside the caller's transaction:

1. one query finds which external_ids already exist (with their current values);
2. new records become a contact, an account (pending balance defaulting to the
   total, currency to the organization's), a ``contact_phones`` row per number and
   a status-history row ``new`` by actor ``import``, all in executemany inserts,
   with time-ordered ids (:mod:`~backoffice.portfolio.ordered_ids`);
3. existing accounts get only the columns whose given value differs (absent values
   never erase stored ones; status and history are never touched), grouped by the
   set of columns changed so each group is one executemany update; identical rows
   are counted ``unchanged`` and not written at all.

Records of one batch must have distinct external_ids (the caller splits batches
at a repeat). Rows without an external_id are always inserted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.portfolio.ordered_ids import ordered_ids
from backoffice.portfolio.records import AccountRecord
from backoffice.store.tables import (
    account_status_history,
    accounts,
    contact_phones,
    contacts,
)

IMPORT_ACTOR = "import"
PHONE_SOURCE = "import"


@dataclass(frozen=True, slots=True)
class WriteTarget:
    org_id: str
    currency: str  # the organization's, for records that give none
    history_reason: str  # on the "new" status row, e.g. "imported from cartera.csv"
    since: dt.datetime  # when this import started: an account touched after it repeats


@dataclass
class BatchResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    repeated: list[AccountRecord] = field(default_factory=list)  # ext ids seen earlier


_ACCOUNT_COLUMNS = ("reference", "total_amount", "pending_balance", "currency", "due_date", "notes")
_CONTACT_COLUMNS = ("name", "email", "phone", "whatsapp", "language", "timezone")


def _given_account(record: AccountRecord) -> dict[str, Any]:
    values = {
        "reference": record.reference,
        "total_amount": record.total_amount,
        "pending_balance": record.pending_balance,
        "currency": record.currency,
        "due_date": record.due_date,
        "notes": record.notes,
    }
    return {k: v for k, v in values.items() if v is not None}


def _given_contact(record: AccountRecord) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": record.contact_name,
        "email": record.email,
        "phone": record.phone,
        "whatsapp": record.whatsapp,
        "language": record.language,
        "timezone": record.timezone,
    }
    if record.document is not None:
        values["document_last4"] = record.document.last4
        values["document_digest"] = record.document.digest
    return {k: v for k, v in values.items() if v is not None}


async def _existing(conn: AsyncConnection, org_id: str, external_ids: list[str]) -> dict[str, Any]:
    if not external_ids:
        return {}
    query = (
        select(
            accounts.c.id,
            accounts.c.contact_id,
            accounts.c.external_id,
            accounts.c.created_at,
            accounts.c.updated_at,
            *(accounts.c[c] for c in _ACCOUNT_COLUMNS),
            *(contacts.c[c].label(f"contact_{c}") for c in _CONTACT_COLUMNS),
            contacts.c.document_last4.label("contact_document_last4"),
            contacts.c.document_digest.label("contact_document_digest"),
        )
        .select_from(accounts.join(contacts, contacts.c.id == accounts.c.contact_id))
        .where(accounts.c.org_id == org_id, accounts.c.external_id.in_(external_ids))
    )
    return {row.external_id: row for row in await conn.execute(query)}


def _changes(given: dict[str, Any], row: Any, prefix: str = "") -> dict[str, Any]:
    return {k: v for k, v in given.items() if getattr(row, prefix + k) != v}


async def write_batch(
    conn: AsyncConnection,
    records: Sequence[AccountRecord],
    target: WriteTarget,
    *,
    now: dt.datetime,
    dry_run: bool = False,
) -> BatchResult:
    """Upsert ``records`` (distinct external_ids) in the caller's transaction.

    With ``dry_run`` nothing is written; the counts are what would have happened.
    """
    result = BatchResult()
    found = await _existing(conn, target.org_id, [r.external_id for r in records if r.external_id])
    new: list[AccountRecord] = []
    account_updates: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    contact_updates: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    numbers: list[tuple[str, str]] = []  # (contact_id, number) that should be on file
    for record in records:
        row = found.get(record.external_id) if record.external_id else None
        if row is None:
            new.append(record)
            continue
        if row.created_at >= target.since or row.updated_at >= target.since:
            result.repeated.append(record)
        account = _changes(_given_account(record), row)
        contact = _changes(_given_contact(record), row, "contact_")
        for number in (record.phone, *record.alternate_phones):
            if number:
                numbers.append((row.contact_id, number))
        if not account and not contact:
            result.unchanged += 1
            continue
        result.updated += 1
        if account:
            account_updates[frozenset(account)].append({"b_id": row.id, **_bind(account)})
        if contact:
            contact_updates[frozenset(contact)].append({"b_id": row.contact_id, **_bind(contact)})
    result.inserted = len(new)
    if dry_run:
        return result
    await _insert(conn, new, target, now)
    await _update(conn, accounts, account_updates, now)
    await _update(conn, contacts, contact_updates, now)
    await _add_numbers(conn, target.org_id, numbers, now)
    return result


def _bind(values: dict[str, Any]) -> dict[str, Any]:
    return {f"b_{k}": v for k, v in values.items()}


async def _update(
    conn: AsyncConnection,
    table: Any,
    groups: dict[frozenset[str], list[dict[str, Any]]],
    now: dt.datetime,
) -> None:
    for columns, params in groups.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in sorted(columns)} | {"updated_at": now})
        )
        await conn.execute(statement, params)


async def _insert(
    conn: AsyncConnection, records: list[AccountRecord], target: WriteTarget, now: dt.datetime
) -> None:
    if not records:
        return
    contact_rows, account_rows, history_rows = [], [], []
    numbers: list[tuple[str, str]] = []
    ids = iter(ordered_ids(3 * len(records)))
    for record in records:
        contact_id, account_id, history_id = next(ids), next(ids), next(ids)
        document = record.document
        contact_rows.append(
            {
                "id": contact_id,
                "org_id": target.org_id,
                "name": record.contact_name,
                "email": record.email,
                "phone": record.phone,
                "whatsapp": record.whatsapp,
                "document_last4": document.last4 if document else None,
                "document_digest": document.digest if document else None,
                "language": record.language,
                "timezone": record.timezone,
                "opted_out": False,
                "created_at": now,
                "updated_at": now,
            }
        )
        account_rows.append(
            {
                "id": account_id,
                "org_id": target.org_id,
                "contact_id": contact_id,
                "external_id": record.external_id,
                "reference": record.reference,
                "total_amount": record.total_amount,
                "pending_balance": record.pending_balance
                if record.pending_balance is not None
                else record.total_amount,
                "currency": record.currency or target.currency,
                "due_date": record.due_date,
                "notes": record.notes,
                "status": "new",
                "created_at": now,
                "updated_at": now,
            }
        )
        history_rows.append(
            {
                "id": history_id,
                "org_id": target.org_id,
                "account_id": account_id,
                "from_status": None,
                "to_status": "new",
                "actor": IMPORT_ACTOR,
                "reason": target.history_reason,
                "at": now,
            }
        )
        numbers += [(contact_id, n) for n in (record.phone, *record.alternate_phones) if n]
    await conn.execute(insert(contacts), contact_rows)
    await conn.execute(insert(accounts), account_rows)
    await conn.execute(insert(account_status_history), history_rows)
    if numbers:
        await conn.execute(insert(contact_phones), _phone_rows(target.org_id, numbers, now))


def _phone_rows(
    org_id: str, numbers: list[tuple[str, str]], now: dt.datetime
) -> list[dict[str, Any]]:
    return [
        {
            "id": phone_id,
            "org_id": org_id,
            "contact_id": contact_id,
            "number": number,
            "state": "valid",
            "source": PHONE_SOURCE,
            "created_at": now,
        }
        for phone_id, (contact_id, number) in zip(ordered_ids(len(numbers)), numbers, strict=True)
    ]


async def _add_numbers(
    conn: AsyncConnection, org_id: str, numbers: list[tuple[str, str]], now: dt.datetime
) -> None:
    """File the numbers of updated contacts that are not on file yet."""
    if not numbers:
        return
    contact_ids = sorted({c for c, _ in numbers})
    on_file = {
        (row.contact_id, row.number)
        for row in await conn.execute(
            select(contact_phones.c.contact_id, contact_phones.c.number).where(
                contact_phones.c.org_id == org_id, contact_phones.c.contact_id.in_(contact_ids)
            )
        )
    }
    missing = sorted(set(numbers) - on_file)
    if missing:
        await conn.execute(insert(contact_phones), _phone_rows(org_id, missing, now))
