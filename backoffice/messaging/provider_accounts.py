"""Which provider account (and sender address) an organization's messages use.

``managed`` organizations send through parley's own Twilio and Resend accounts
(settings); ``byop`` organizations through the keys they stored
(``backoffice.orgs.credentials``, encrypted). Per provider: an organization in
``byop`` mode that stored no keys for a provider uses parley's for that one.

Sender addresses: the organization's settings (``messaging.sms_from``,
``messaging.whatsapp_from``) win; then its own keys' ``from_number`` /
``whatsapp_from``; then parley's defaults (``PARLEY_TWILIO_SMS_FROM`` or
``PARLEY_TWILIO_FROM_NUMBER``, ``PARLEY_TWILIO_WHATSAPP_FROM``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.orgs.credentials import get_credentials
from backoffice.orgs.models import Organization
from backoffice.orgs.service import get_organization
from backoffice.store.tables import organizations
from backoffice.vault import Vault, VaultError
from config.settings import DEFAULT_RESEND_API_URL, DEFAULT_TWILIO_API_URL, Settings


@dataclass(frozen=True, slots=True)
class ManagedAccounts:
    """parley's own provider accounts (any may be missing)."""

    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    sms_from: str = ""
    whatsapp_from: str = ""
    resend_api_key: str = ""
    resend_webhook_secret: str = ""


@dataclass(frozen=True, slots=True)
class MessagingConfig:
    """What messaging needs from the process's settings.

    Attributes:
        public_url: the gateway's public base URL (status callbacks are sent to it).
        inbound_org_id: the organization that owns replies to parley's own numbers
            when no organization claims the number.
        server_secret: decrypts organizations' stored keys.
    """

    public_url: str
    server_secret: bytes
    managed: ManagedAccounts = ManagedAccounts()
    twilio_api_url: str = DEFAULT_TWILIO_API_URL
    resend_api_url: str = DEFAULT_RESEND_API_URL
    inbound_org_id: str = "default"
    email_local_part: str = "avisos"

    @classmethod
    def from_settings(cls, settings: Settings) -> MessagingConfig:
        def secret(value: Any) -> str:
            return "" if value is None else str(value.get_secret_value())

        return cls(
            public_url=settings.public_url,
            server_secret=secret(settings.secret_key).encode(),
            managed=ManagedAccounts(
                twilio_account_sid=settings.twilio_account_sid,
                twilio_auth_token=secret(settings.twilio_auth_token),
                sms_from=settings.twilio_sms_from or settings.twilio_from_number,
                whatsapp_from=settings.twilio_whatsapp_from,
                resend_api_key=secret(settings.resend_api_key),
                resend_webhook_secret=secret(settings.resend_webhook_secret),
            ),
            twilio_api_url=settings.twilio_api_url,
            resend_api_url=settings.resend_api_url,
            inbound_org_id=settings.inbound_org_id,
            email_local_part=settings.email_from_local_part,
        )

    @property
    def vault(self) -> Vault:
        return Vault(self.server_secret)


@dataclass(frozen=True, slots=True)
class TwilioAccount:
    mode: str  # managed | byop
    account_sid: str
    auth_token: str
    sms_from: str
    whatsapp_from: str

    def sender(self, channel: str) -> str:
        return self.whatsapp_from if channel == "whatsapp" else self.sms_from


@dataclass(frozen=True, slots=True)
class ResendAccount:
    mode: str
    api_key: str
    webhook_secret: str


def messaging_settings(org: Organization) -> dict[str, Any]:
    value = org.settings.get("messaging") or {}
    return value if isinstance(value, dict) else {}


async def twilio_account(
    conn: AsyncConnection, config: MessagingConfig, org: Organization
) -> TwilioAccount:
    """Raises: VaultError (stored keys unreadable with this server's secret)."""
    own = (await get_credentials(conn, config.vault, org_id=org.id)).providers.get("twilio")
    chosen = messaging_settings(org)
    if own:
        return TwilioAccount(
            "byop",
            own["account_sid"],
            own["auth_token"],
            chosen.get("sms_from") or own.get("from_number", ""),
            chosen.get("whatsapp_from") or own.get("whatsapp_from") or own.get("from_number", ""),
        )
    managed = config.managed
    return TwilioAccount(
        "managed",
        managed.twilio_account_sid,
        managed.twilio_auth_token,
        chosen.get("sms_from") or managed.sms_from,
        chosen.get("whatsapp_from") or managed.whatsapp_from,
    )


async def resend_account(
    conn: AsyncConnection, config: MessagingConfig, org_id: str
) -> ResendAccount:
    """Raises: NotFound (organization), VaultError."""
    own = (await get_credentials(conn, config.vault, org_id=org_id)).providers.get("resend")
    if own:
        return ResendAccount("byop", own["api_key"], own.get("webhook_secret", ""))
    managed = config.managed
    return ResendAccount("managed", managed.resend_api_key, managed.resend_webhook_secret)


async def org_for_twilio_number(
    conn: AsyncConnection, config: MessagingConfig, number: str
) -> str | None:
    """The organization that sends from ``number`` (E.164, no channel prefix).

    Each organization's senders are read (its settings, its own keys); parley's own
    numbers belong to ``config.inbound_org_id`` unless an organization claims them.
    The scan reads every organization: fine for the few a deployment has; an
    organization with many numbers sets ``?org=`` on its webhook URL instead.
    """
    ids = (await conn.execute(select(organizations.c.id).order_by(organizations.c.id))).scalars()
    for org_id in ids.all():
        org = await get_organization(conn, org_id)
        try:
            account = await twilio_account(conn, config, org)
        except VaultError:
            continue  # unreadable keys: that organization cannot be the one
        chosen = messaging_settings(org)
        claimed = {chosen.get("sms_from"), chosen.get("whatsapp_from")}
        if account.mode == "byop":
            claimed |= {account.sms_from, account.whatsapp_from}
        if number in claimed:
            return str(org_id)
    managed = config.managed
    if number in (managed.sms_from, managed.whatsapp_from):
        return config.inbound_org_id
    return None
