"""signed-out sessions: a signed-out operator session cookie is refused everywhere

Revision ID: 0006_signed_out
Revises: 0005_messaging
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backoffice.store.types

revision: str = "0006_signed_out"
down_revision: str | None = "0005_messaging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signed_out_sessions",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("expires_at", backoffice.store.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", backoffice.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_signed_out_sessions_org_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_signed_out_sessions")),
    )
    op.create_index(
        op.f("ix_signed_out_sessions_org_id"), "signed_out_sessions", ["org_id"], unique=False
    )
    op.create_index(
        op.f("ix_signed_out_sessions_expires_at"),
        "signed_out_sessions",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_signed_out_sessions_expires_at"), table_name="signed_out_sessions")
    op.drop_index(op.f("ix_signed_out_sessions_org_id"), table_name="signed_out_sessions")
    op.drop_table("signed_out_sessions")
