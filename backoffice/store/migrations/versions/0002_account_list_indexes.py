"""account list indexes

The operator's account list is always scoped to one organization, usually filtered by
status and ordered by priority (call first), or ordered by due date. These composite
indexes let both databases answer a page of that list without sorting the whole
organization. Other sort keys (balance, dates, reference) sort the filtered set; they
are rarer and not worth slowing every import row with more indexes.

Revision ID: 0002_accounts
Revises: 0001
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_accounts"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_accounts_org_priority": ["org_id", "priority_score"],
    "ix_accounts_org_status_priority": ["org_id", "status", "priority_score"],
    "ix_accounts_org_due_date": ["org_id", "due_date"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "accounts", columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="accounts")
