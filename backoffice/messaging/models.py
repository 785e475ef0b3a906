"""What the messaging services take and give back."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Outcome(enum.StrEnum):
    SENT = "sent"
    """The provider accepted the message (delivery is reported later)."""
    DUPLICATE = "duplicate"
    """This idempotency key was used before: nothing was sent again; the first send's
    message is described."""
    REFUSED = "refused"
    """parley did not send it (compliance, WhatsApp window, no verified domain, ...)."""
    FAILED = "failed"
    """The provider refused it or could not be reached."""


class Reason(enum.StrEnum):
    """Stable codes beside the compliance check's own (``opted_out``, ``outside_hours``,
    ``dnc_listed``, ``account_status``, ``day_not_allowed``, ``no_such_account``...)."""

    SENT = "sent"
    DUPLICATE = "duplicate"
    NO_ADDRESS = "no_address"
    NOT_CONTACTS_ADDRESS = "not_contacts_address"
    NO_SENDER = "no_sender"
    WINDOW_CLOSED = "whatsapp_window_closed"
    NO_WHATSAPP_TEMPLATE = "no_whatsapp_template"
    NO_VERIFIED_DOMAIN = "no_verified_email_domain"
    TEMPLATE = "template_error"
    PROVIDER_REFUSED = "provider_refused"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    CHANNEL_NOT_ALLOWED = "channel_not_allowed"
    CREDENTIALS_UNREADABLE = "credentials_unreadable"


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """One message to an account's contact.

    Attributes:
        channel: ``sms``, ``whatsapp`` or ``email``.
        idempotency_key: the caller's key; the same key in the same organization
            sends once, whatever the rest of the request says the second time.
        template: a template name (``debt_summary``, ``payment_reminder``), or None
            with ``text`` for a free-form message.
        text: free-form text (sent as written, never rendered).
        subject: the subject of a free-form email.
        language: an override of the effective language.
        to: one of the contact's addresses for the channel; default: its main one.
        variables: extra template variables; the account's own (balance, name,
            reference...) are always given and cannot be replaced.
        actor: who asks (``api:<key>``, ``agent:<call_sid>``, ``strategy``).
    """

    org_id: str
    account_id: str
    channel: str
    idempotency_key: str
    actor: str
    template: str | None = None
    text: str | None = None
    subject: str | None = None
    language: str | None = None
    to: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What happened to a send, in words a person (or a voice agent) can repeat.

    ``message`` is one English sentence; ``reason`` a stable code. When something
    was sent (or had been, for a duplicate), the ids, the address, the language and
    the text are those of that message.
    """

    outcome: Outcome
    reason: str
    message: str
    channel: str
    message_id: str | None = None
    interaction_id: str | None = None
    provider_id: str | None = None
    status: str | None = None
    to: str | None = None
    language: str | None = None
    template: str | None = None
    subject: str | None = None
    content: str | None = None
    next_allowed_at: dt.datetime | None = None

    @property
    def delivered_to_provider(self) -> bool:
        """True when a message exists at the provider (now or from the first send)."""
        return self.outcome in (Outcome.SENT, Outcome.DUPLICATE) and self.provider_id is not None


@dataclass(frozen=True, slots=True)
class MessageView:
    """One message as the timeline and the agent's context show it.

    ``summary`` never contains amounts or personal data (it may be shown before the
    caller's identity is verified); ``content`` is the text itself.
    """

    id: str
    channel: str
    direction: str
    status: str
    template: str | None
    language: str | None
    summary: str
    content: str | None
    subject: str | None
    to: str
    from_: str
    account_id: str | None
    contact_id: str | None
    interaction_id: str | None
    provider_id: str | None
    error_code: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
