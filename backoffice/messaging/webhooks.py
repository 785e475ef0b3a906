"""The backoffice side of the providers' webhooks: whose key checks a request, and what
a verified request changes.

The gateway owns HTTP and signature checking; it asks here which secret applies
(:func:`twilio_key`, :func:`resend_key`), checks the request with the provider's SDK,
and only then hands the content over (:func:`on_twilio_status`, ...). Which secret:
the organization named by the webhook URL's ``org`` parameter (parley writes it into
every status-callback URL; an organization that brings its own accounts puts it in
the URLs it configures at Twilio and Resend), else the one that owns the receiving
number, else parley's own (managed) keys. A report then only touches messages sent
with the keys that signed it (:class:`~backoffice.messaging.delivery.Source`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from backoffice.errors import NotFound
from backoffice.messaging import delivery, domains, inbound
from backoffice.messaging.delivery import Applied, Source
from backoffice.messaging.provider_accounts import (
    org_for_twilio_number,
    resend_account,
    twilio_account,
)
from backoffice.messaging.providers import Messaging
from backoffice.orgs.service import get_organization
from backoffice.store.db import Database
from backoffice.store.tables import email_domains
from backoffice.vault import VaultError


@dataclass(frozen=True, slots=True)
class WebhookKey:
    """The secret to check a request with, and whom it speaks for (``org_id`` None:
    parley's managed account, with no organization known yet)."""

    source: Source
    secret: str

    @property
    def org_id(self) -> str | None:
        return self.source.org_id


def bare_number(address: str) -> str:
    """``whatsapp:+34600...`` -> ``+34600...``."""
    return address.split(":", 1)[1] if address.startswith("whatsapp:") else address


async def twilio_key(
    db: Database, messaging: Messaging, *, org_hint: str | None, receiving: str | None
) -> WebhookKey:
    """Whose Twilio auth token signs a request (see the module docstring)."""
    async with db.read() as conn:
        org_id = org_hint or None
        if org_id is None and receiving:
            org_id = await org_for_twilio_number(conn, messaging.config, bare_number(receiving))
        if org_id is not None:
            try:
                org = await get_organization(conn, org_id)
                account = await twilio_account(conn, messaging.config, org)
            except (NotFound, VaultError):
                org_id = None
            else:
                return WebhookKey(Source(account.mode, org_id), account.auth_token)
    managed = messaging.config.managed
    return WebhookKey(Source("managed", None), managed.twilio_auth_token)


async def resend_key(db: Database, messaging: Messaging, *, org_hint: str | None) -> WebhookKey:
    """Whose Svix signing secret signs a Resend event."""
    if org_hint:
        async with db.read() as conn:
            try:
                account = await resend_account(conn, messaging.config, org_hint)
            except (NotFound, VaultError):
                account = None
        if account is not None and account.mode == "byop":
            return WebhookKey(Source("byop", org_hint), account.webhook_secret)
        if account is not None:
            return WebhookKey(Source("managed", org_hint), account.webhook_secret)
    return WebhookKey(Source("managed", None), messaging.config.managed.resend_webhook_secret)


async def on_twilio_status(
    db: Database, key: WebhookKey, params: Mapping[str, str], message_id: str | None
) -> Applied:
    async with db.transaction() as conn:
        return await delivery.apply_twilio_status(conn, key.source, params, message_id)


async def on_twilio_inbound(
    db: Database, key: WebhookKey, params: Mapping[str, str], *, at: dt.datetime
) -> inbound.Reply | None:
    """Store an inbound SMS/WhatsApp message; None when no organization receives it."""
    if key.org_id is None:
        return None
    sender = params.get("From", "")
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    async with db.transaction() as conn:
        return await inbound.receive(
            conn,
            org_id=key.org_id,
            channel=channel,
            provider="twilio",
            provider_id=params.get("MessageSid") or params.get("SmsMessageSid") or "",
            sender=bare_number(sender),
            recipient=bare_number(params.get("To", "")),
            text=params.get("Body", ""),
            subject=None,
            credential_mode=key.source.mode,
            at=at,
        )


async def on_resend_event(
    db: Database, key: WebhookKey, event_id: str, payload: Mapping[str, Any], *, at: dt.datetime
) -> str:
    """Apply a verified Resend event; returns what it did (for the log)."""
    kind = str(payload.get("type", ""))
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    assert isinstance(data, dict)
    async with db.transaction() as conn:
        if kind.startswith("domain."):
            row = (
                await conn.execute(
                    select(email_domains.c.id, email_domains.c.org_id).where(
                        email_domains.c.provider_domain_id == str(data.get("id", ""))
                    )
                )
            ).first()
            if row is None or (key.org_id is not None and row.org_id != key.org_id):
                return "unknown_domain"
            await domains.apply_provider_state(conn, row.org_id, row.id, data)
            return "domain_updated"
        if kind == "email.received":
            return await _email_received(conn, key, data, at)
        applied = await delivery.apply_resend_event(conn, key.source, event_id, payload)
        return applied.outcome


async def _email_received(conn: Any, key: WebhookKey, data: dict[str, Any], at: dt.datetime) -> str:
    given = data.get("to")
    recipients: list[Any] = given if isinstance(given, list) else [given or ""]
    org_id = key.org_id
    recipient = ""
    for address in recipients:
        domain = str(address).rpartition("@")[2].rstrip(">").lower()
        owner = await domains.org_for_domain(conn, domain)
        if owner is not None and (org_id is None or owner == org_id):
            org_id, recipient = owner, str(address)
            break
    if org_id is None or not recipient:
        return "unknown_recipient"
    sender = str(data.get("from", ""))
    if "<" in sender:
        sender = sender.rpartition("<")[2].rstrip(">")
    reply = await inbound.receive(
        conn,
        org_id=org_id,
        channel="email",
        provider="resend",
        provider_id=str(data.get("email_id", "")),
        sender=sender.strip().lower(),
        recipient=recipient,
        text=str(data.get("text") or ""),
        subject=str(data.get("subject") or ""),
        credential_mode=key.source.mode,
        at=at,
    )
    return "duplicate" if reply.duplicate else "received"
