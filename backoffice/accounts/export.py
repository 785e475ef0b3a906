"""The account list as CSV, streamed: the same filters and order as the list, no pages.

Rows come from the database through a server-side cursor (``conn.stream``) and leave
as CSV text in chunks of :data:`CHUNK_ROWS`, so an export of a whole portfolio holds
one chunk in memory, never the result. Amounts are plain decimals (``1234.50``) with
the currency in its own column; the document shows only its last four digits.

A text cell that a spreadsheet would read as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) is prefixed with ``'``: names and notes come from
imported files, and an export must not run someone's formula on the operator's
machine (OWASP, "CSV Injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select

from backoffice.accounts.masking import mask_document
from backoffice.accounts.query import AccountQuery, conditions, ordering, source
from backoffice.store.db import Database
from backoffice.store.tables import accounts, contacts

CHUNK_ROWS = 500
COLUMNS = (
    "account_id",
    "external_id",
    "reference",
    "status",
    "total_amount",
    "pending_balance",
    "currency",
    "due_date",
    "priority_score",
    "contact_id",
    "contact_name",
    "document",
    "phone",
    "email",
    "opted_out",
    "created_at",
    "updated_at",
)
_SELECT = (
    accounts.c.id.label("account_id"),
    accounts.c.external_id,
    accounts.c.reference,
    accounts.c.status,
    accounts.c.total_amount,
    accounts.c.pending_balance,
    accounts.c.currency,
    accounts.c.due_date,
    accounts.c.priority_score,
    accounts.c.contact_id,
    contacts.c.name.label("contact_name"),
    contacts.c.document_last4.label("document"),
    contacts.c.phone,
    contacts.c.email,
    contacts.c.opted_out,
    accounts.c.created_at,
    accounts.c.updated_at,
)
_TEXT = frozenset({"external_id", "reference", "contact_name", "email"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "document":
        return mask_document(value) or ""
    if name == "opted_out":
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    text = str(value)
    if name in _TEXT and text.startswith(_FORMULA_START):
        return "'" + text
    return text


async def export_csv(db: Database, org_id: str, query: AccountQuery) -> AsyncIterator[str]:
    """Yield the CSV text of every account matching ``query`` (ignoring its page),
    header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    async with db.read() as conn:
        result = await conn.stream(
            select(*_SELECT)
            .select_from(source())
            .where(*conditions(org_id, query))
            .order_by(*ordering(query))
            .execution_options(yield_per=CHUNK_ROWS)
        )
        async for partition in result.partitions(CHUNK_ROWS):
            for row in partition:
                writer.writerow([_cell(name, row._mapping[name]) for name in COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
