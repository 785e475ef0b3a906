"""Every table of the built-in backoffice, as SQLAlchemy Core (no ORM).

Conventions: ids are 32-character hex strings made by the application (so rows can be
referenced before they are written, and ids never leak row counts); money is
``Numeric(18, 2)`` read back as ``Decimal`` with the row's ISO currency beside it;
times are timezone-aware UTC; every row carries ``org_id`` so that every query can be
scoped to one organization. Alembic migrations (``backoffice/store/migrations``) are
the source of the schema in a database; this module is what code queries against.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from backoffice.store.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MONEY = Numeric(18, 2, asdecimal=True)


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _id() -> Column[str]:
    return Column("id", String(32), primary_key=True, default=new_id)


def _org() -> Column[str]:
    return Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False, index=True)


def _created() -> Column[dt.datetime]:
    return Column("created_at", UTCDateTime(), nullable=False, default=utcnow)


ACCOUNT_STATUSES = (
    "new",
    "pending_contact",
    "auto_management",
    "active_conversation",
    "promise_active",
    "promise_overdue",
    "paid",
    "escalated",
    "in_review",
    "closed",
    "paused",
)
ROLES = ("admin", "operator", "viewer")
PHONE_STATES = ("valid", "wrong_party", "disconnected")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


organizations = Table(
    "organizations",
    metadata,
    _id(),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("locale", String(10), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("contact_hours_start", String(5), nullable=False, default="09:00"),
    Column("contact_hours_end", String(5), nullable=False, default="20:00"),
    Column("contact_days", String(27), nullable=False, default="mon,tue,wed,thu,fri"),
    Column("credential_mode", String(10), nullable=False, default="managed"),
    Column("provider_keys", Text, nullable=True),  # encrypted JSON (Fernet), BYOP only
    # Key signing requests to the organization's own system of record (encrypted, Fernet).
    Column("records_secret", Text, nullable=True),
    Column("settings", JSON, nullable=False, default=dict),
    _created(),
    CheckConstraint("credential_mode IN ('managed', 'byop')", name="credential_mode"),
)

api_keys = Table(
    "api_keys",
    metadata,
    _id(),
    _org(),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    Column("role", String(10), nullable=False),
    _created(),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
    CheckConstraint(_in("role", ROLES), name="role"),
)

contacts = Table(
    "contacts",
    metadata,
    _id(),
    _org(),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=True),
    Column("phone", String(16), nullable=True, index=True),
    Column("whatsapp", String(16), nullable=True),
    # Only the last four digits are kept readable; the digest matches a full number.
    Column("document_last4", String(4), nullable=True),
    Column("document_digest", String(64), nullable=True),
    Column("date_of_birth", Date, nullable=True),
    Column("language", String(10), nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("opted_out", Boolean, nullable=False, default=False),
    Column("opted_out_reason", String(500), nullable=True),
    Column("opted_out_at", UTCDateTime(), nullable=True),
    Column("opted_out_by", String(100), nullable=True),
    # The channel the debtor asked to be reached on (call, sms, whatsapp, email).
    Column("preferred_channel", String(16), nullable=True),
    _created(),
    Column("updated_at", UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow),
)

contact_phones = Table(
    "contact_phones",
    metadata,
    _id(),
    _org(),
    Column("contact_id", String(32), ForeignKey("contacts.id"), nullable=False, index=True),
    Column("number", String(16), nullable=False, index=True),
    Column("state", String(16), nullable=False, default="valid"),
    Column("source", String(32), nullable=False),
    # Dialling history of this number, for phone rotation (failures reset on an answer).
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_attempt_at", UTCDateTime(), nullable=True),
    Column("last_result", String(32), nullable=True),
    _created(),
    UniqueConstraint("contact_id", "number", name="uq_contact_phones_contact_number"),
    CheckConstraint(_in("state", PHONE_STATES), name="state"),
)

accounts = Table(
    "accounts",
    metadata,
    _id(),
    _org(),
    Column("contact_id", String(32), ForeignKey("contacts.id"), nullable=False, index=True),
    Column("external_id", String(128), nullable=True),
    Column("reference", String(128), nullable=True, index=True),
    Column("total_amount", MONEY, nullable=False),
    Column("pending_balance", MONEY, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("due_date", Date, nullable=True),
    Column("notes", Text, nullable=True),
    Column("status", String(24), nullable=False, default="new", index=True),
    Column("priority_score", Integer, nullable=True),
    Column("priority_factors", JSON, nullable=True),
    Column("priority_computed_at", UTCDateTime(), nullable=True),
    # No automated contact before this time (a callback the debtor asked for).
    Column("next_contact_at", UTCDateTime(), nullable=True),
    _created(),
    Column("updated_at", UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow),
    UniqueConstraint("org_id", "external_id", name="uq_accounts_org_external_id"),
    CheckConstraint(_in("status", ACCOUNT_STATUSES), name="status"),
    # The operator's list: by priority (optionally within a status) or by due date.
    Index("ix_accounts_org_priority", "org_id", "priority_score"),
    Index("ix_accounts_org_status_priority", "org_id", "status", "priority_score"),
    Index("ix_accounts_org_due_date", "org_id", "due_date"),
)

account_status_history = Table(
    "account_status_history",
    metadata,
    _id(),
    _org(),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("from_status", String(24), nullable=True),
    Column("to_status", String(24), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("reason", String(500), nullable=True),
    Column("at", UTCDateTime(), nullable=False, default=utcnow),
)

debt_items = Table(
    "debt_items",
    metadata,
    _id(),
    _org(),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("date", Date, nullable=True),
    Column("state", String(16), nullable=False, default="pending"),
    Column("description", String(500), nullable=True),
    _created(),
    CheckConstraint("kind IN ('capital', 'interest', 'fees', 'payment')", name="kind"),
    CheckConstraint("state IN ('pending', 'applied', 'cancelled')", name="state"),
)

interactions = Table(
    "interactions",
    metadata,
    _id(),
    _org(),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=True, index=True),
    Column("contact_id", String(32), ForeignKey("contacts.id"), nullable=True, index=True),
    Column("channel", String(16), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("provider_id", String(128), nullable=True, index=True),
    Column("provider_ids", JSON, nullable=True),
    Column("status", String(32), nullable=False),
    Column("result", String(64), nullable=True),
    Column("summary", Text, nullable=True),
    Column("disposition", String(64), nullable=True),
    Column("sentiment", String(16), nullable=True),
    Column("willingness", Integer, nullable=True),
    Column("cooperation", String(16), nullable=True),
    Column("tools_used", JSON, nullable=True),
    Column("cost", Numeric(12, 4), nullable=True),
    Column("duration_s", Integer, nullable=True),
    Column("within_allowed_hours", Boolean, nullable=True),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    # Calls: the agent's conversation, why the call ended, and what the analysis said.
    Column("conversation_id", String(64), nullable=True, index=True),
    Column("end_reason", String(64), nullable=True),
    Column("contact_result", String(32), nullable=True),
    Column("transcript", JSON, nullable=True),
    Column("analysis", JSON, nullable=True),
    Column("outcome_source", String(16), nullable=True),
    Column("outcome_at", UTCDateTime(), nullable=True),
    _created(),
    CheckConstraint("willingness IS NULL OR willingness BETWEEN 1 AND 5", name="willingness"),
    Index("ix_interactions_org_started", "org_id", "started_at"),
)

promises = Table(
    "promises",
    metadata,
    _id(),
    _org(),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("interaction_id", String(32), ForeignKey("interactions.id"), nullable=True),
    Column("amount", MONEY, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("status", String(16), nullable=False, default="active"),
    Column("source", String(32), nullable=False),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    _created(),
)

disputes = Table(
    "disputes",
    metadata,
    _id(),
    _org(),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Column("source", String(32), nullable=False),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("interaction_id", String(32), ForeignKey("interactions.id"), nullable=True),
    _created(),
)

callback_requests = Table(
    "callback_requests",
    metadata,
    _id(),
    _org(),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("scheduled_for", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("source", String(32), nullable=False),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("interaction_id", String(32), ForeignKey("interactions.id"), nullable=True),
    Column("number", String(16), nullable=True),
    Column("note", String(500), nullable=True),
    _created(),
)

audit_log = Table(
    "audit_log",
    metadata,
    _id(),
    _org(),
    Column("actor", String(100), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(64), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("detail", JSON, nullable=True),
    Column("at", UTCDateTime(), nullable=False, default=utcnow, index=True),
)

# Numbers that must not be called or messaged, whether or not a contact has them today:
# a contact imported next month with a listed number is refused all the same.
dnc_numbers = Table(
    "dnc_numbers",
    metadata,
    _id(),
    _org(),
    Column("number", String(16), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("source", String(32), nullable=False),
    Column("actor", String(100), nullable=False),
    _created(),
    UniqueConstraint("org_id", "number", name="uq_dnc_numbers_org_number"),
)

# --- calls and the agent's actions (migration 0004) ---------------------------------

IDENTITY_STATES = ("unverified", "verified", "locked", "wrong_person")

# parley's own record of every call, whichever backoffice holds the account: what the
# gateway processes and the tool webhooks share (identity state above all), keyed by
# Twilio's CallSid. ``account_ref`` is the built-in account id or the partner's id.
call_sessions = Table(
    "call_sessions",
    metadata,
    _id(),
    _org(),
    Column("call_sid", String(64), nullable=False, unique=True),
    Column("call_ref", String(64), nullable=True, index=True),
    Column("direction", String(24), nullable=False),
    Column("account_ref", String(128), nullable=True),
    Column("contact_id", String(32), nullable=True),
    Column("interaction_id", String(32), nullable=True),
    Column("number", String(16), nullable=True),
    Column("language", String(10), nullable=True),
    Column("candidates", JSON, nullable=True),
    Column("identity_state", String(16), nullable=False, default="unverified"),
    Column("identity_failures", Integer, nullable=False, default=0),
    Column("conversation_id", String(64), nullable=True, index=True),
    Column("status", String(24), nullable=False, default="queued"),
    Column("outcome", String(32), nullable=True),
    Column("end_reason", String(64), nullable=True),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("outcome_at", UTCDateTime(), nullable=True),
    _created(),
    CheckConstraint(_in("identity_state", IDENTITY_STATES), name="identity_state"),
    Index("ix_call_sessions_org_ended", "org_id", "ended_at"),
)

# One row per tool call the agent made: the claim that makes a retried webhook or a
# repeated client tool call do its work once, and the result every repeat gets back.
tool_calls = Table(
    "tool_calls",
    metadata,
    _id(),
    _org(),
    Column("call_sid", String(64), nullable=False, index=True),
    Column("tool_call_id", String(128), nullable=False),
    Column("tool", String(64), nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("status", String(16), nullable=False, default="running"),
    Column("result", JSON, nullable=True),
    _created(),
    Column("finished_at", UTCDateTime(), nullable=True),
    UniqueConstraint("org_id", "call_sid", "tool_call_id", name="uq_tool_calls_call_tool_call"),
    CheckConstraint("status IN ('running', 'done')", name="status"),
)

# The account's timeline of what happened inside an interaction (a promise made, a
# number given, an opt-out asked), in the words an operator reads.
interaction_events = Table(
    "interaction_events",
    metadata,
    _id(),
    _org(),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=True, index=True),
    Column("interaction_id", String(32), ForeignKey("interactions.id"), nullable=True, index=True),
    Column("kind", String(48), nullable=False),
    Column("summary", String(500), nullable=False),
    Column("detail", JSON, nullable=True),
    Column("actor", String(100), nullable=False),
    Column("at", UTCDateTime(), nullable=False, default=utcnow),
)

disposition_history = Table(
    "disposition_history",
    metadata,
    _id(),
    _org(),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("interaction_id", String(32), ForeignKey("interactions.id"), nullable=True),
    Column("disposition", String(64), nullable=False),
    Column("contact_result", String(32), nullable=True),
    Column("source", String(32), nullable=False),
    Column("at", UTCDateTime(), nullable=False, default=utcnow),
)

hardships = Table(
    "hardships",
    metadata,
    _id(),
    _org(),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("interaction_id", String(32), ForeignKey("interactions.id"), nullable=True),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Column("source", String(32), nullable=False),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    _created(),
)

# --- messaging: SMS, WhatsApp, email (migration 0005) -------------------------------

MESSAGE_CHANNELS = ("sms", "whatsapp", "email")
MESSAGE_STATUSES = (
    "pending",
    "accepted",
    "queued",
    "sending",
    "sent",
    "delivered",
    "read",
    "received",
    "failed",
    "undelivered",
    "bounced",
    "canceled",
)

# One row per message sent or received. The interaction row (channel, status) is what
# the account timeline shows; this row holds what only messages have: addresses, the
# template and its language, the rendered text, the provider's id and the delivery
# state, ranked so that callbacks arriving out of order never move it backwards.
messages = Table(
    "messages",
    metadata,
    _id(),
    _org(),
    Column("interaction_id", String(32), ForeignKey("interactions.id"), nullable=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=True, index=True),
    Column("contact_id", String(32), ForeignKey("contacts.id"), nullable=True, index=True),
    Column("channel", String(16), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("provider_id", String(128), nullable=True),
    Column("credential_mode", String(10), nullable=False, default="managed"),
    Column("idempotency_key", String(128), nullable=True),
    Column("to_address", String(320), nullable=False),
    Column("from_address", String(320), nullable=False),
    Column("template", String(64), nullable=True),
    Column("language", String(10), nullable=True),
    Column("content_sid", String(64), nullable=True),
    Column("subject", String(300), nullable=True),
    Column("body", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("error_code", String(32), nullable=True),
    Column("error_message", String(500), nullable=True),
    Column("actor", String(100), nullable=False),
    _created(),
    Column("updated_at", UTCDateTime(), nullable=False, default=utcnow),
    UniqueConstraint("provider", "provider_id", name="uq_messages_provider_provider_id"),
    UniqueConstraint("org_id", "idempotency_key", name="uq_messages_org_idempotency_key"),
    CheckConstraint(_in("channel", MESSAGE_CHANNELS), name="channel"),
    CheckConstraint("direction IN ('outbound', 'inbound')", name="direction"),
    CheckConstraint(_in("status", MESSAGE_STATUSES), name="status"),
    Index("ix_messages_org_contact_created", "org_id", "contact_id", "created_at"),
)

# Every delivery report and provider event as received, deduplicated on the provider's
# own event id (a Svix message id, a Twilio MessageSid + status): replays are no-ops.
message_events = Table(
    "message_events",
    metadata,
    _id(),
    _org(),
    Column("message_id", String(32), ForeignKey("messages.id"), nullable=False, index=True),
    Column("provider_event_id", String(160), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("status", String(16), nullable=True),
    Column("applied", Boolean, nullable=False),
    Column("detail", JSON, nullable=True),
    Column("at", UTCDateTime(), nullable=False, default=utcnow),
    UniqueConstraint("provider_event_id", name="uq_message_events_provider_event_id"),
)

# WhatsApp's 24-hour customer-service window, per debtor address: free-form text is
# allowed only until ``last_inbound_at`` + 24 h; outside it, approved templates only.
whatsapp_windows = Table(
    "whatsapp_windows",
    metadata,
    _id(),
    _org(),
    Column("address", String(16), nullable=False),
    Column("contact_id", String(32), ForeignKey("contacts.id"), nullable=True),
    Column("last_inbound_at", UTCDateTime(), nullable=False),
    UniqueConstraint("org_id", "address", name="uq_whatsapp_windows_org_address"),
)

EMAIL_DOMAIN_STATUSES = (
    "not_started",
    "pending",
    "verified",
    "partially_verified",
    "partially_failed",
    "failed",
    "temporary_failure",
)

# An organization's sending domain as registered with Resend: the DNS records to add,
# and the verification state. Email is sent only from a domain whose status is
# ``verified``; a domain belongs to one organization (inbound mail is matched by it).
email_domains = Table(
    "email_domains",
    metadata,
    _id(),
    _org(),
    Column("name", String(253), nullable=False),
    Column("provider_domain_id", String(64), nullable=False),
    Column("region", String(32), nullable=True),
    Column("status", String(24), nullable=False),
    Column("records", JSON, nullable=False),
    Column("credential_mode", String(10), nullable=False),
    _created(),
    Column("checked_at", UTCDateTime(), nullable=True),
    Column("verified_at", UTCDateTime(), nullable=True),
    UniqueConstraint("name", name="uq_email_domains_name"),
)

# The backoffice's outbox of domain events (``message.failed``, ``message.replied``,
# ...): written in the transaction of the change they describe, read and marked
# consumed by the strategy engine (see ``backoffice.messaging.events``).
domain_events = Table(
    "domain_events",
    metadata,
    _id(),
    _org(),
    Column("kind", String(48), nullable=False),
    Column("account_id", String(32), nullable=True),
    Column("contact_id", String(32), nullable=True),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    _created(),
    Column("consumed_at", UTCDateTime(), nullable=True),
    Column("consumed_by", String(64), nullable=True),
    Index("ix_domain_events_org_pending", "org_id", "consumed_at", "created_at"),
)

# --- operator sessions (migration 0006) ----------------------------------------------

# Session cookies signed out before they expire: a copy of one taken before the
# sign-out (another tab, another machine) is refused too. Keyed by a digest of the
# session's random token, never the cookie itself; a row is useless after
# ``expires_at`` (the cookie has expired anyway) and is pruned.
signed_out_sessions = Table(
    "signed_out_sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    _org(),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
    _created(),
)

# --- the remote system of record's outbox (migration 0007) ----------------------------

# A push about a call (started, outcome) that an organization's own system did not
# take in time: kept and sent again with the same idempotency key until it is taken,
# refused, or too old (see ``backoffice.calls.remote_outbox``).
PUSH_STATES = ("pending", "delivered", "refused", "abandoned")

partner_pushes = Table(
    "partner_pushes",
    metadata,
    _id(),
    _org(),
    Column("call_sid", String(64), nullable=False),
    Column("account_ref", String(200), nullable=True),
    Column("what", String(16), nullable=False),
    Column("action", String(100), nullable=False),
    Column("body", JSON, nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(200), nullable=True),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    _created(),
    Column("finished_at", UTCDateTime(), nullable=True),
    UniqueConstraint("org_id", "call_sid", "what", "action", name="uq_partner_pushes_push"),
    CheckConstraint(_in("state", PUSH_STATES), name="state"),
    Index("ix_partner_pushes_due", "state", "next_attempt_at"),
)
