"""A real gateway on a free loopback port, and helpers that talk to it as Twilio does."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from backoffice.store.db import Database
from backoffice.store.tables import accounts
from bin.server import InProcessGateway, free_port
from config.settings import Settings, load_settings
from gateway.services import Services
from tests.backoffice.factories import make_account, make_contact

# Wednesday 18 November 2026, 15:00 in Madrid (the test organizations' zone).
BUSINESS_HOURS = dt.datetime(2026, 11, 18, 14, 0, tzinfo=dt.UTC)
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0001"
ORG_A_KEY = "key-org-a-0000000000"
ORG_B_KEY = "key-org-b-0000000000"


def gateway_settings(tmp: Path, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "public_url": f"http://127.0.0.1:{port}",
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from_number": "+15550000001",
        "elevenlabs_agent_id": "agent-test",
        "elevenlabs_ws_url": "ws://127.0.0.1:9/v1/convai/conversation",
        "api_keys": f"org-a:{ORG_A_KEY},org-b:{ORG_B_KEY}",
        "recordings_dir": tmp / "recordings",
        "inbound_org_id": "org-a",
        "database_url": f"sqlite+aiosqlite:///{tmp / 'parley.db'}",
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class Stream:
    url: str
    parameters: dict[str, str]


def parse_stream_twiml(text: str) -> Stream:
    root = ET.fromstring(text)
    stream = root.find("Connect/Stream")
    assert stream is not None, text
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return Stream(stream.get("url", ""), params)


class Gateway:
    """The gateway under test plus a Twilio-like signer."""

    def __init__(self, tmp: Path, **overrides: Any) -> None:
        port = free_port()
        self.settings = gateway_settings(tmp, port, **overrides)
        self.server = InProcessGateway(self.settings, port=port)
        self.validator = RequestValidator(AUTH_TOKEN)
        self.http = httpx.AsyncClient(base_url=self.server.url, timeout=10)

    async def __aenter__(self) -> Gateway:
        await self.server.start()
        # Business rules (contact hours) see a fixed weekday afternoon, whatever the
        # time the suite runs at; the call path itself never reads this clock.
        self.services.clock = lambda: BUSINESS_HOURS
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        await self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def services(self) -> Services:
        services: Services = self.server.app.state.services
        return services

    def sign(self, url: str, params: dict[str, str]) -> str:
        return str(self.validator.compute_signature(url, params))

    async def post_twilio(
        self,
        path: str,
        params: dict[str, str],
        *,
        query: str = "",
        signature: str | None = None,
    ) -> httpx.Response:
        """POST a form as Twilio would, signed over the public URL unless told otherwise."""
        full = f"{self.settings.public_url}{path}" + (f"?{query}" if query else "")
        headers = {}
        sig = self.sign(full, params) if signature is None else signature
        if sig:
            headers["X-Twilio-Signature"] = sig
        target = path + (f"?{query}" if query else "")
        return await self.http.post(target, data=params, headers=headers)

    async def inbound_call(self, call_sid: str, from_: str = "+15550009999") -> Stream:
        response = await self.post_twilio(
            "/twilio/voice",
            {
                "CallSid": call_sid,
                "AccountSid": ACCOUNT_SID,
                "From": from_,
                "To": "+15550000001",
                "Direction": "inbound",
                "CallStatus": "ringing",
            },
        )
        assert response.status_code == 200, response.text
        return parse_stream_twiml(response.text)


async def ensure_account(gw: Gateway, org_id: str, external_id: str, phone: str) -> str:
    """An account of ``org_id`` with that external id, reachable at ``phone``."""
    database: Database = gw.server.app.state.database
    async with database.read() as conn:
        found = (
            await conn.execute(
                select(accounts.c.id).where(
                    accounts.c.org_id == org_id, accounts.c.external_id == external_id
                )
            )
        ).scalar()
    if found is not None:
        return str(found)
    contact = await make_contact(database, org_id, name="Ann Example", phone=phone)
    return await make_account(database, org_id, contact, external_id=external_id)


def call_sid(n: int) -> str:
    return f"CA{n:032x}"
