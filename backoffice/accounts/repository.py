"""Reading accounts: one account, a page of the list, and the row locked for a change.

Every function takes the caller's ``org_id`` and puts it in the ``WHERE`` clause; an
account of another organization is :class:`~backoffice.errors.NotFound`, the same
answer as one that does not exist, so ids cannot be probed across tenants.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.accounts.models import AccountPage, AccountSummary
from backoffice.accounts.query import AccountQuery, conditions, ordering, source
from backoffice.errors import NotFound
from backoffice.store.tables import accounts, contacts

SUMMARY_COLUMNS = (
    accounts.c.id,
    accounts.c.external_id,
    accounts.c.reference,
    accounts.c.contact_id,
    contacts.c.name.label("contact_name"),
    accounts.c.status,
    accounts.c.total_amount,
    accounts.c.pending_balance,
    accounts.c.currency,
    accounts.c.due_date,
    accounts.c.priority_score,
    accounts.c.priority_computed_at,
    accounts.c.created_at,
    accounts.c.updated_at,
)


def summary_of(row: Row[*tuple[Any, ...]]) -> AccountSummary:
    return AccountSummary.model_validate(dict(row._mapping))


async def list_accounts(conn: AsyncConnection, org_id: str, query: AccountQuery) -> AccountPage:
    """One page of the organization's accounts matching ``query``, with the total count."""
    where = conditions(org_id, query)
    total = (
        await conn.execute(select(func.count()).select_from(source()).where(*where))
    ).scalar_one()
    rows = await conn.execute(
        select(*SUMMARY_COLUMNS)
        .select_from(source())
        .where(*where)
        .order_by(*ordering(query))
        .limit(query.page_size)
        .offset((query.page - 1) * query.page_size)
    )
    return AccountPage(
        items=[summary_of(r) for r in rows],
        total=total,
        page=query.page,
        page_size=query.page_size,
        pages=-(-total // query.page_size),
    )


async def get_account(conn: AsyncConnection, org_id: str, account_id: str) -> AccountSummary:
    """Raises: NotFound (also for another organization's account)."""
    row = (
        await conn.execute(
            select(*SUMMARY_COLUMNS)
            .select_from(source())
            .where(accounts.c.id == account_id, accounts.c.org_id == org_id)
        )
    ).first()
    if row is None:
        raise NotFound("account")
    return summary_of(row)


# Built once: the agent's actions read the row on every call, and building a select
# of every column costs more than running it.
_ROW = select(accounts).where(
    accounts.c.id == bindparam("a_id"), accounts.c.org_id == bindparam("a_org")
)
_ROW_FOR_UPDATE = _ROW.with_for_update()


async def account_row(
    conn: AsyncConnection, org_id: str, account_id: str, *, for_update: bool = False
) -> Row[*tuple[Any, ...]]:
    """The raw ``accounts`` row, locked on PostgreSQL when about to be changed.

    SQLite has no row locks (its writers are serialised by the database lock), so
    ``FOR UPDATE`` is left out there by SQLAlchemy.

    Raises:
        NotFound: also for another organization's account.
    """
    statement = _ROW_FOR_UPDATE if for_update else _ROW
    row = (await conn.execute(statement, {"a_id": account_id, "a_org": org_id})).first()
    if row is None:
        raise NotFound("account")
    return row
