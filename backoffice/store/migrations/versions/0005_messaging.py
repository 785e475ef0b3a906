"""messaging: messages, delivery events, WhatsApp windows, email domains (issue 6)

Revision ID: 0005_messaging
Revises: 0004_call_tools
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backoffice.store.types

revision: str = "0005_messaging"
down_revision: str | None = "0004_call_tools"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = backoffice.store.types.UTCDateTime

_CHANNELS = "channel IN ('sms', 'whatsapp', 'email')"
_STATUSES = (
    "status IN ('pending', 'accepted', 'queued', 'sending', 'sent', 'delivered', 'read', "
    "'received', 'failed', 'undelivered', 'bounced', 'canceled')"
)


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations")
    )


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("interaction_id", sa.String(length=32), nullable=True),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=True),
        sa.Column("credential_mode", sa.String(length=10), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("content_sid", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.CheckConstraint(_CHANNELS, name=op.f("ck_messages_channel")),
        sa.CheckConstraint(
            "direction IN ('outbound', 'inbound')", name=op.f("ck_messages_direction")
        ),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_messages_status")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_messages_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_messages_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_messages_interaction_id_interactions"),
        ),
        _org_fk("messages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("provider", "provider_id", name="uq_messages_provider_provider_id"),
        sa.UniqueConstraint("org_id", "idempotency_key", name="uq_messages_org_idempotency_key"),
    )
    op.create_index(op.f("ix_messages_org_id"), "messages", ["org_id"], unique=False)
    op.create_index(op.f("ix_messages_account_id"), "messages", ["account_id"], unique=False)
    op.create_index(op.f("ix_messages_contact_id"), "messages", ["contact_id"], unique=False)
    op.create_index(
        "ix_messages_org_contact_created",
        "messages",
        ["org_id", "contact_id", "created_at"],
        unique=False,
    )

    op.create_table(
        "message_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("provider_event_id", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_events_message_id_messages")
        ),
        _org_fk("message_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_events")),
        sa.UniqueConstraint("provider_event_id", name="uq_message_events_provider_event_id"),
    )
    op.create_index(op.f("ix_message_events_org_id"), "message_events", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_message_events_message_id"), "message_events", ["message_id"], unique=False
    )

    op.create_table(
        "whatsapp_windows",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=16), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.Column("last_inbound_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_whatsapp_windows_contact_id_contacts")
        ),
        _org_fk("whatsapp_windows"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_windows")),
        sa.UniqueConstraint("org_id", "address", name="uq_whatsapp_windows_org_address"),
    )
    op.create_index(
        op.f("ix_whatsapp_windows_org_id"), "whatsapp_windows", ["org_id"], unique=False
    )

    op.create_table(
        "email_domains",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("provider_domain_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("credential_mode", sa.String(length=10), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("checked_at", UTC(), nullable=True),
        sa.Column("verified_at", UTC(), nullable=True),
        _org_fk("email_domains"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_domains")),
        sa.UniqueConstraint("name", name="uq_email_domains_name"),
    )
    op.create_index(op.f("ix_email_domains_org_id"), "email_domains", ["org_id"], unique=False)

    op.create_table(
        "domain_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("consumed_at", UTC(), nullable=True),
        sa.Column("consumed_by", sa.String(length=64), nullable=True),
        _org_fk("domain_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_events")),
    )
    op.create_index(op.f("ix_domain_events_org_id"), "domain_events", ["org_id"], unique=False)
    op.create_index(
        "ix_domain_events_org_pending",
        "domain_events",
        ["org_id", "consumed_at", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_domain_events_org_pending", table_name="domain_events")
    op.drop_index(op.f("ix_domain_events_org_id"), table_name="domain_events")
    op.drop_table("domain_events")
    op.drop_index(op.f("ix_email_domains_org_id"), table_name="email_domains")
    op.drop_table("email_domains")
    op.drop_index(op.f("ix_whatsapp_windows_org_id"), table_name="whatsapp_windows")
    op.drop_table("whatsapp_windows")
    op.drop_index(op.f("ix_message_events_message_id"), table_name="message_events")
    op.drop_index(op.f("ix_message_events_org_id"), table_name="message_events")
    op.drop_table("message_events")
    op.drop_index("ix_messages_org_contact_created", table_name="messages")
    op.drop_index(op.f("ix_messages_contact_id"), table_name="messages")
    op.drop_index(op.f("ix_messages_account_id"), table_name="messages")
    op.drop_index(op.f("ix_messages_org_id"), table_name="messages")
    op.drop_table("messages")
