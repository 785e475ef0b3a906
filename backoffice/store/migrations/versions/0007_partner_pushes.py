"""partner pushes: the remote system of record's outbox of call reports not yet taken

Revision ID: 0007_partner_pushes
Revises: 0006_signed_out
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backoffice.store.types

revision: str = "0007_partner_pushes"
down_revision: str | None = "0006_signed_out"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = backoffice.store.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "partner_pushes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("account_ref", sa.String(length=200), nullable=True),
        sa.Column("what", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("next_attempt_at", UTC(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'refused', 'abandoned')",
            name=op.f("ck_partner_pushes_state"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_partner_pushes_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_pushes")),
        sa.UniqueConstraint("org_id", "call_sid", "what", "action", name="uq_partner_pushes_push"),
    )
    op.create_index(op.f("ix_partner_pushes_org_id"), "partner_pushes", ["org_id"], unique=False)
    op.create_index(
        "ix_partner_pushes_due", "partner_pushes", ["state", "next_attempt_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_partner_pushes_due", table_name="partner_pushes")
    op.drop_index(op.f("ix_partner_pushes_org_id"), table_name="partner_pushes")
    op.drop_table("partner_pushes")
