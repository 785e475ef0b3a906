"""The messaging stand-ins, driven by the providers' own SDKs, and their webhooks checked
by the SDKs' own verifiers (twilio's RequestValidator, resend's and svix's Svix check).

Nothing of parley's is in the loop except what points the SDKs at the stand-ins.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest
import resend
from resend.exceptions import ResendError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from svix.webhooks import Webhook
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList

from backoffice.messaging import resend_http
from gateway.standins.resend_api import ResendStandIn
from gateway.standins.twilio_messaging import Recipient
from gateway.standins.twilio_sdk import StandInHttpClient
from gateway.standins.twilio_standin import TwilioStandIn
from tests.standins.fake_gateway import PUBLIC, serve

SID = "AC" + "c" * 32
TOKEN = "messaging-token"
KEY = "re_standin_key_0000000000"


@dataclass
class Receiver:
    """A webhook endpoint that keeps what it got (form or raw body, headers)."""

    got: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        self.got.append((request.url.path, dict(request.headers), await request.body()))
        return Response(status_code=204)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["POST"])])


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[TwilioStandIn, Client, Receiver]]:
    receiver = Receiver()
    async with serve(receiver.app()) as url:
        standin = TwilioStandIn(SID, TOKEN, url, public_url=PUBLIC)
        await standin.start()
        try:
            yield (
                standin,
                Client(SID, TOKEN, http_client=StandInHttpClient(standin.rest_url)),
                receiver,
            )
        finally:
            await standin.stop()


async def test_messages_through_the_sdk_and_callbacks_twilios_validator_accepts(
    twilio: tuple[TwilioStandIn, Client, Receiver],
) -> None:
    standin, client, receiver = twilio
    standin.messaging.recipients["+34600000001"] = Recipient(delay_s=0.01)
    message = await asyncio.to_thread(
        client.messages.create,
        to="+34600000001",
        from_="+15550000001",
        body="Hola",
        status_callback=f"{PUBLIC}/twilio/messages/status?org=x",
    )
    assert message.sid.startswith("SM") and message.status == "queued"
    assert message.body == "Hola" and message.to == "+34600000001"
    fetched = await asyncio.to_thread(client.messages(message.sid).fetch)
    assert fetched.sid == message.sid
    await standin.messaging.idle()
    validator = RequestValidator(TOKEN)
    statuses = []
    for path, headers, body in receiver.got:
        form = dict(parse_qsl(body.decode()))
        assert validator.validate(f"{PUBLIC}{path}?org=x", form, headers["x-twilio-signature"]), (
            form
        )
        statuses.append(form["MessageStatus"])
    assert statuses == ["sent", "delivered"]


async def test_errors_come_back_as_twilio_rest_exceptions(
    twilio: tuple[TwilioStandIn, Client, Receiver],
) -> None:
    standin, client, _ = twilio
    with pytest.raises(TwilioRestException) as no_to:
        await asyncio.to_thread(client.messages.create, to="", from_="+15550000001", body="x")
    assert no_to.value.code == 21604
    with pytest.raises(TwilioRestException) as mixed:
        await asyncio.to_thread(
            client.messages.create, to="whatsapp:+34600000001", from_="+15550000001", body="x"
        )
    assert mixed.value.code == 21910
    wrong = Client(SID, "not-the-token", http_client=StandInHttpClient(standin.rest_url))
    with pytest.raises(TwilioRestException) as refused:
        await asyncio.to_thread(wrong.messages.create, to="+34600000001", from_="+1555", body="x")
    assert (refused.value.status, refused.value.code) == (401, 20003)


async def test_content_templates_through_the_content_api(
    twilio: tuple[TwilioStandIn, Client, Receiver],
) -> None:
    standin, client, _ = twilio
    request = ContentList.ContentCreateRequest(
        {
            "friendly_name": "reminder_es",
            "language": "es",
            "variables": {"1": "nombre", "2": "saldo"},
            "types": {"twilio/text": {"body": "Hola {{1}}, su saldo es {{2}}."}},
        }
    )
    content = await asyncio.to_thread(client.content.v1.contents.create, request)
    assert content.sid.startswith("HX") and content.language == "es"
    fetched = await asyncio.to_thread(client.content.v1.contents(content.sid).fetch)
    assert fetched.friendly_name == "reminder_es"
    message = await asyncio.to_thread(
        client.messages.create,
        to="whatsapp:+34600000001",
        from_="whatsapp:+15550000002",
        content_sid=content.sid,
        content_variables=orjson.dumps({"1": "Ana", "2": "10 €"}).decode(),
    )
    assert message.body == "Hola Ana, su saldo es 10 €."
    with pytest.raises(TwilioRestException) as unknown:
        await asyncio.to_thread(
            client.messages.create,
            to="whatsapp:+34600000001",
            from_="whatsapp:+15550000002",
            content_sid="HX" + "0" * 32,
        )
    assert unknown.value.code == 21655
    assert standin.messaging.messages[message.sid].content_sid == content.sid


async def test_whatsapp_free_form_outside_the_window_fails_with_63016(
    twilio: tuple[TwilioStandIn, Client, Receiver],
) -> None:
    standin, client, _ = twilio
    standin.messaging.default_recipient = Recipient(delay_s=0.01)
    message = await asyncio.to_thread(
        client.messages.create,
        to="whatsapp:+34600000001",
        from_="whatsapp:+15550000002",
        body="free text",
        status_callback=f"{PUBLIC}/s",
    )
    await standin.messaging.idle()
    record = standin.messaging.messages[message.sid]
    assert [(c.params["MessageStatus"], c.params.get("ErrorCode")) for c in record.callbacks] == [
        ("failed", "63016")
    ]


@pytest.fixture
async def resend_standin() -> AsyncIterator[tuple[ResendStandIn, Receiver]]:
    receiver = Receiver()
    async with serve(receiver.app()) as url:
        standin = ResendStandIn({KEY: "team"})
        await standin.start()
        client = resend_http.ResendHttp()
        resend_http.install(client)
        standin.webhooks["team"] = [(f"{url}/resend/events", _secret())]
        try:
            yield standin, receiver
        finally:
            await client.aclose()
            await standin.stop()


def _secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def test_domains_and_emails_through_the_resend_sdk(
    resend_standin: tuple[ResendStandIn, Receiver],
) -> None:
    standin, receiver = resend_standin
    send: Any = {"from": "Cobros <avisos@mail.acme.test>", "to": ["a@b.test"], "subject": "S",
                 "text": "T"}  # fmt: skip
    with resend_http.account(KEY, standin.url):
        created = await resend.Domains.create_async({"name": "mail.acme.test"})
        assert created["status"] == "not_started"
        assert {r["record"] for r in created["records"] or []} == {"SPF", "DKIM"}
        with pytest.raises(ResendError) as unverified:
            await resend.Emails.send_async(send)
        assert "not verified" in unverified.value.message
        await resend.Domains.verify_async(created["id"])
        assert (await resend.Domains.get_async(created["id"]))["status"] == "verified"
        first = await resend.Emails.send_async(send, {"idempotency_key": "k"})
        again = await resend.Emails.send_async(send, {"idempotency_key": "k"})
        assert first["id"] == again["id"] and len(standin.emails) == 1
        other: Any = {**send, "subject": "other"}
        with pytest.raises(ResendError) as conflict:
            await resend.Emails.send_async(other, {"idempotency_key": "k"})
        assert conflict.value.error_type == "invalid_idempotent_request"
    with resend_http.account("re_wrong", standin.url), pytest.raises(ResendError):
        await resend.Domains.get_async(created["id"])
    await standin.idle()
    secret = standin.webhooks["team"][0][1]
    types = []
    for _, headers, body in receiver.got:
        svix_headers = {k: headers[k] for k in ("svix-id", "svix-timestamp", "svix-signature")}
        Webhook(secret).verify(body, svix_headers)  # raises if the signature is wrong
        event = resend.Webhooks.verify(
            {
                "payload": body.decode(),
                "headers": {
                    "id": headers["svix-id"],
                    "timestamp": headers["svix-timestamp"],
                    "signature": headers["svix-signature"],
                },
                "webhook_secret": secret,
            }
        )
        types.append(event["type"])
    assert types == ["domain.updated", "email.sent", "email.delivered"]
