"""agent tools and call context: call sessions, tool-call claims, the interaction
timeline, disposition history, hardship requests; call outcomes on interactions; phone
rotation history on numbers; callbacks that pause contact

Revision ID: 0004_call_tools
Revises: 0003_dnc
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backoffice.store.types

revision: str = "0004_call_tools"
down_revision: str | None = "0003_dnc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("call_ref", sa.String(length=64), nullable=True),
        sa.Column("direction", sa.String(length=24), nullable=False),
        sa.Column("account_ref", sa.String(length=128), nullable=True),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.Column("interaction_id", sa.String(length=32), nullable=True),
        sa.Column("number", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=True),
        sa.Column("identity_state", sa.String(length=16), nullable=False),
        sa.Column("identity_failures", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
        sa.Column("started_at", backoffice.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", backoffice.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome_at", backoffice.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", backoffice.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "identity_state IN ('unverified', 'verified', 'locked', 'wrong_person')",
            name=op.f("ck_call_sessions_identity_state"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_call_sessions_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_sessions")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_call_sessions_call_sid")),
    )
    with op.batch_alter_table("call_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_sessions_call_ref"), ["call_ref"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_call_sessions_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index("ix_call_sessions_org_ended", ["org_id", "ended_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_sessions_org_id"), ["org_id"], unique=False)

    op.create_table(
        "tool_calls",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("tool_call_id", sa.String(length=128), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", backoffice.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", backoffice.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('running', 'done')", name=op.f("ck_tool_calls_status")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_tool_calls_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_calls")),
        sa.UniqueConstraint(
            "org_id", "call_sid", "tool_call_id", name="uq_tool_calls_call_tool_call"
        ),
    )
    with op.batch_alter_table("tool_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tool_calls_call_sid"), ["call_sid"], unique=False)
        batch_op.create_index(batch_op.f("ix_tool_calls_org_id"), ["org_id"], unique=False)

    op.create_table(
        "disposition_history",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("interaction_id", sa.String(length=32), nullable=True),
        sa.Column("disposition", sa.String(length=64), nullable=False),
        sa.Column("contact_result", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("at", backoffice.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_disposition_history_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_disposition_history_interaction_id_interactions"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_disposition_history_org_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposition_history")),
    )
    with op.batch_alter_table("disposition_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disposition_history_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_disposition_history_org_id"), ["org_id"], unique=False)

    op.create_table(
        "hardships",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("interaction_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", backoffice.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_hardships_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_hardships_interaction_id_interactions"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_hardships_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hardships")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_hardships_idempotency_key")),
    )
    with op.batch_alter_table("hardships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hardships_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hardships_org_id"), ["org_id"], unique=False)

    op.create_table(
        "interaction_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("interaction_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", backoffice.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_interaction_events_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_interaction_events_interaction_id_interactions"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_interaction_events_org_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interaction_events")),
    )
    with op.batch_alter_table("interaction_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interaction_events_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_interaction_events_interaction_id"), ["interaction_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_interaction_events_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "next_contact_at", backoffice.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )

    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("interaction_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("number", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("note", sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_callback_requests_interaction_id_interactions"),
            "interactions",
            ["interaction_id"],
            ["id"],
        )

    with op.batch_alter_table("contact_phones", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "last_attempt_at", backoffice.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("last_result", sa.String(length=32), nullable=True))

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preferred_channel", sa.String(length=16), nullable=True))

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("records_secret", sa.Text(), nullable=True))

    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("interaction_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_disputes_interaction_id_interactions"),
            "interactions",
            ["interaction_id"],
            ["id"],
        )

    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("contact_result", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("transcript", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("analysis", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("outcome_source", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "outcome_at", backoffice.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_interactions_conversation_id"), ["conversation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interactions_conversation_id"))
        batch_op.drop_column("outcome_at")
        batch_op.drop_column("outcome_source")
        batch_op.drop_column("analysis")
        batch_op.drop_column("transcript")
        batch_op.drop_column("contact_result")
        batch_op.drop_column("end_reason")
        batch_op.drop_column("conversation_id")

    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_disputes_interaction_id_interactions"), type_="foreignkey"
        )
        batch_op.drop_column("interaction_id")

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("records_secret")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("preferred_channel")

    with op.batch_alter_table("contact_phones", schema=None) as batch_op:
        batch_op.drop_column("last_result")
        batch_op.drop_column("last_attempt_at")
        batch_op.drop_column("consecutive_failures")

    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_callback_requests_interaction_id_interactions"), type_="foreignkey"
        )
        batch_op.drop_column("note")
        batch_op.drop_column("number")
        batch_op.drop_column("interaction_id")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("next_contact_at")

    with op.batch_alter_table("interaction_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interaction_events_org_id"))
        batch_op.drop_index(batch_op.f("ix_interaction_events_interaction_id"))
        batch_op.drop_index(batch_op.f("ix_interaction_events_account_id"))

    op.drop_table("interaction_events")
    with op.batch_alter_table("hardships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hardships_org_id"))
        batch_op.drop_index(batch_op.f("ix_hardships_account_id"))

    op.drop_table("hardships")
    with op.batch_alter_table("disposition_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disposition_history_org_id"))
        batch_op.drop_index(batch_op.f("ix_disposition_history_account_id"))

    op.drop_table("disposition_history")
    with op.batch_alter_table("tool_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tool_calls_org_id"))
        batch_op.drop_index(batch_op.f("ix_tool_calls_call_sid"))

    op.drop_table("tool_calls")
    with op.batch_alter_table("call_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_sessions_org_id"))
        batch_op.drop_index("ix_call_sessions_org_ended")
        batch_op.drop_index(batch_op.f("ix_call_sessions_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_call_sessions_call_ref"))

    op.drop_table("call_sessions")
