"""The account list's filters and order, shared by the paged list and the CSV export.

One :class:`AccountQuery` describes what the operator asked for; :func:`conditions` and
:func:`ordering` turn it into SQL, always under ``accounts.org_id = <caller's org>``,
so the list, its count and the export can never disagree about which accounts match.

Search (``q``) is case-insensitive: a prefix of the reference or of the external id,
or any part of the contact's name. SQLite folds case for ASCII letters only, so there
"ÁLVARO" is not found by "álvaro" (PostgreSQL folds both).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from sqlalchemy import ColumnElement, FromClause, and_, func, or_
from sqlalchemy.sql.elements import UnaryExpression

from backoffice.store.tables import ACCOUNT_STATUSES, accounts, contacts

SortKey = Literal[
    "priority", "due_date", "pending_balance", "created_at", "updated_at", "reference"
]
SORT_COLUMNS = {
    "priority": accounts.c.priority_score,
    "due_date": accounts.c.due_date,
    "pending_balance": accounts.c.pending_balance,
    "created_at": accounts.c.created_at,
    "updated_at": accounts.c.updated_at,
    "reference": accounts.c.reference,
}
MAX_PAGE_SIZE = 200


class AccountQuery(BaseModel):
    """Filters, page and order of the account list (also the API's query parameters)."""

    model_config = ConfigDict(frozen=True)

    status: Annotated[
        tuple[str, ...],
        # sent as text in the query string, one value or several comma-separated
        WithJsonSchema({"type": "string", "examples": ["new,promise_overdue"]}),
    ] = Field(
        default=(),
        description="One status or several, comma-separated (e.g. new,promise_overdue).",
    )
    q: str | None = Field(
        default=None,
        max_length=200,
        description="Reference or external id (prefix) or contact name (any part).",
    )
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=25, ge=1, le=MAX_PAGE_SIZE)
    sort: SortKey = "priority"
    order: Literal["asc", "desc"] | None = Field(
        default=None, description="Default: desc for priority, asc for the other keys."
    )

    @field_validator("status", mode="before")
    @classmethod
    def _statuses(cls, value: Any) -> tuple[str, ...]:
        if value is None or value == "":
            return ()
        parts = value.split(",") if isinstance(value, str) else list(value)
        statuses = tuple(dict.fromkeys(str(p).strip() for p in parts if str(p).strip()))
        unknown = [s for s in statuses if s not in ACCOUNT_STATUSES]
        if unknown:
            raise ValueError(
                f"unknown status {', '.join(unknown)}; use {', '.join(ACCOUNT_STATUSES)}"
            )
        return statuses

    @field_validator("q")
    @classmethod
    def _q(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        return value or None

    @property
    def direction(self) -> str:
        return self.order or ("desc" if self.sort == "priority" else "asc")


def source() -> FromClause:
    """Accounts with their contact (same organization on both sides of the join)."""
    return accounts.join(
        contacts,
        and_(contacts.c.id == accounts.c.contact_id, contacts.c.org_id == accounts.c.org_id),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def conditions(org_id: str, query: AccountQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [accounts.c.org_id == org_id]
    if query.status:
        where.append(accounts.c.status.in_(query.status))
    if query.q:
        needle = _escape_like(query.q.lower())
        where.append(
            or_(
                func.lower(accounts.c.reference).like(needle + "%", escape="\\"),
                func.lower(accounts.c.external_id).like(needle + "%", escape="\\"),
                func.lower(contacts.c.name).like("%" + needle + "%", escape="\\"),
            )
        )
    return where


def ordering(query: AccountQuery) -> list[UnaryExpression[Any]]:
    """The sort key (missing values last either way), then id so pages are stable."""
    column = SORT_COLUMNS[query.sort]
    key = column.desc() if query.direction == "desc" else column.asc()
    return [key.nulls_last(), accounts.c.id.asc()]
