"""Account use cases, each in its own transaction (or read connection).

The API calls these. Code that already holds a transaction (an import, an agent
tool, a post-call webhook) calls the connection-level functions they wrap instead
(``status.change_status``, ``debt_items.add_debt_item``, ``priority.recalculate``) so
that its own change and the account's change commit together.
"""

from __future__ import annotations

from backoffice.accounts import debt_items, detail, priority, repository, status
from backoffice.accounts.contacts import contact_detail
from backoffice.accounts.models import (
    AccountDetail,
    AccountPage,
    ContactDetail,
    DebtItemChange,
    InteractionDetail,
    Priority,
    StatusChange,
)
from backoffice.accounts.query import AccountQuery
from backoffice.store.db import Database


async def list_accounts(db: Database, org_id: str, query: AccountQuery) -> AccountPage:
    async with db.read() as conn:
        return await repository.list_accounts(conn, org_id, query)


async def get_account_detail(db: Database, org_id: str, account_id: str) -> AccountDetail:
    """Raises: NotFound."""
    async with db.read() as conn:
        return await detail.account_detail(conn, org_id, account_id)


async def get_interaction(
    db: Database, org_id: str, account_id: str, interaction_id: str
) -> InteractionDetail:
    """Raises: NotFound."""
    async with db.read() as conn:
        return await detail.interaction_detail(conn, org_id, account_id, interaction_id)


async def get_contact(db: Database, org_id: str, contact_id: str) -> ContactDetail:
    """Raises: NotFound."""
    async with db.read() as conn:
        return await contact_detail(conn, org_id, contact_id)


async def set_status(
    db: Database, *, org_id: str, account_id: str, to_status: str, actor: str, reason: str | None
) -> StatusChange:
    """Raises: NotFound, InvalidInput, Conflict (see ``status.change_status``)."""
    async with db.transaction() as conn:
        return await status.change_status(
            conn,
            org_id=org_id,
            account_id=account_id,
            to_status=to_status,
            actor=actor,
            reason=reason,
        )


async def add_debt_item(
    db: Database, *, org_id: str, account_id: str, data: debt_items.DebtItemInput, actor: str
) -> DebtItemChange:
    """Raises: NotFound, InvalidInput."""
    async with db.transaction() as conn:
        return await debt_items.add_debt_item(
            conn, org_id=org_id, account_id=account_id, data=data, actor=actor
        )


async def update_debt_item(
    db: Database,
    *,
    org_id: str,
    account_id: str,
    item_id: str,
    patch: debt_items.DebtItemPatch,
    actor: str,
) -> DebtItemChange:
    """Raises: NotFound, InvalidInput, Conflict."""
    async with db.transaction() as conn:
        return await debt_items.update_debt_item(
            conn, org_id=org_id, account_id=account_id, item_id=item_id, patch=patch, actor=actor
        )


async def recalculate_priority(db: Database, org_id: str, account_id: str) -> Priority:
    """Raises: NotFound."""
    async with db.transaction() as conn:
        return await priority.recalculate(conn, org_id=org_id, account_id=account_id)
