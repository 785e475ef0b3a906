"""dnc numbers: numbers opted out by phone are remembered, matched or not

Revision ID: 0003_dnc
Revises: 0002_accounts
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backoffice.store.types

revision: str = "0003_dnc"
down_revision: str | None = "0002_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dnc_numbers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", backoffice.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_dnc_numbers_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dnc_numbers")),
        sa.UniqueConstraint("org_id", "number", name="uq_dnc_numbers_org_number"),
    )
    op.create_index(op.f("ix_dnc_numbers_org_id"), "dnc_numbers", ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dnc_numbers_org_id"), table_name="dnc_numbers")
    op.drop_table("dnc_numbers")
