"""A messaging world: a real gateway, the Twilio and Resend stand-ins, and helpers.

The gateway runs on the test's database (SQLite or PostgreSQL), with parley's managed
accounts pointed at the stand-ins through the same settings production uses
(``PARLEY_TWILIO_API_URL``, ``PARLEY_RESEND_API_URL``). The stand-ins post their
signed callbacks and events to the gateway's real webhook routes.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from backoffice.accounts.debt_items import DebtItemInput, add_debt_item
from backoffice.messaging.providers import Messaging
from backoffice.store.db import Database
from backoffice.store.tables import domain_events, messages
from gateway.standins.resend_api import ResendStandIn
from gateway.standins.twilio_standin import TwilioStandIn
from tests.backoffice.factories import make_account, make_contact
from tests.integration.harness import ACCOUNT_SID, AUTH_TOKEN, ORG_A_KEY, ORG_B_KEY, Gateway

SMS_FROM = "+15550000001"
WHATSAPP_FROM = "+15550000002"
MANAGED_RESEND_KEY = "re_managed_0000000000000000"
BYOP_RESEND_KEY = "re_acme_own_000000000000000"
BYOP_ACCOUNT_SID = "AC" + "b" * 32
BYOP_AUTH_TOKEN = "byop-auth-token-00000001"
BYOP_SMS_FROM = "+15557770001"


def svix_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass
class World:
    gw: Gateway
    twilio: TwilioStandIn
    resend: ResendStandIn
    managed_secret: str

    @property
    def db(self) -> Database:
        database: Database = self.gw.server.app.state.database
        return database

    @property
    def messaging(self) -> Messaging:
        found: Messaging = self.gw.server.app.state.messaging
        return found

    def headers(self, org: str = "org-a") -> dict[str, str]:
        return {"Authorization": f"Bearer {ORG_A_KEY if org == 'org-a' else ORG_B_KEY}"}

    @property
    def http(self) -> httpx.AsyncClient:
        return self.gw.http

    @property
    def inbound_url(self) -> str:
        return f"{self.gw.settings.public_url}/twilio/messages/inbound"

    async def debtor(
        self,
        org: str = "org-a",
        *,
        items: list[tuple[str, str]] = (),  # type: ignore[assignment]
        account: dict[str, Any] | None = None,
        **contact: Any,
    ) -> tuple[str, str]:
        """A contact and its account (with these debt items): (contact id, account id)."""
        fields = {"name": "Ana García López", "phone": "+34600111222"} | contact
        contact_id = await make_contact(self.db, org, **fields)
        account_id = await make_account(
            self.db, org, contact_id, reference="CTA-1001", **(account or {})
        )
        async with self.db.transaction() as conn:
            for kind, amount in items:
                await add_debt_item(
                    conn,
                    org_id=org,
                    account_id=account_id,
                    data=DebtItemInput(kind=kind, amount=Decimal(amount), state="applied"),  # type: ignore[arg-type]
                    actor="test",
                )
        return contact_id, account_id

    async def send(self, account_id: str, org: str = "org-a", **body: Any) -> httpx.Response:
        body.setdefault("idempotency_key", secrets.token_hex(8))
        return await self.http.post(
            f"/api/accounts/{account_id}/messages", json=body, headers=self.headers(org)
        )

    async def verified_domain(self, org: str = "org-a", domain: str = "mail.cobros.test") -> str:
        created = await self.http.post(
            "/api/email/domains", json={"domain": domain}, headers=self.headers(org)
        )
        assert created.status_code == 201, created.text
        verified = await self.http.post(
            f"/api/email/domains/{created.json()['id']}/verify", headers=self.headers(org)
        )
        assert verified.json()["status"] == "verified", verified.text
        return str(created.json()["id"])

    async def set_messaging(self, org: str, **values: Any) -> None:
        """Merge ``values`` into the organization's messaging settings, as its admin does."""
        current = await self.http.get("/api/org/messaging", headers=self.headers(org))
        wanted = {**current.json(), **values}
        stored = await self.http.put("/api/org/messaging", json=wanted, headers=self.headers(org))
        assert stored.status_code == 200, stored.text

    async def message_row(self, message_id: str) -> Any:
        async with self.db.read() as conn:
            return (await conn.execute(select(messages).where(messages.c.id == message_id))).one()

    async def events(self, org: str = "org-a") -> list[Any]:
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(domain_events)
                .where(domain_events.c.org_id == org)
                .order_by(domain_events.c.created_at)
            )
            return list(rows)


@asynccontextmanager
async def messaging_world(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    twilio = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN)
    resend = ResendStandIn({MANAGED_RESEND_KEY: "parley", BYOP_RESEND_KEY: "acme-own"})
    managed_secret = svix_secret()
    await twilio.start()
    await resend.start()
    try:
        gw = Gateway(
            tmp_path,
            database_url=database_url,
            twilio_api_url=twilio.rest_url,
            twilio_sms_from=SMS_FROM,
            twilio_whatsapp_from=WHATSAPP_FROM,
            resend_api_url=resend.url,
            resend_api_key=MANAGED_RESEND_KEY,
            resend_webhook_secret=managed_secret,
        )
        async with gw:
            resend.webhooks["parley"] = [(f"{gw.url}/resend/events", managed_secret)]
            yield World(gw, twilio, resend, managed_secret)
    finally:
        await resend.stop()
        await twilio.stop()
