"""The partner stand-in holds a partner to docs/partner-api.md: signed, idempotent, JSON."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import orjson
import pytest

from backoffice.calls.remote_http import signature
from gateway.standins.partner_accounts import PartnerAccount
from gateway.standins.partner_records import PartnerRecords

SECRET = "stand-in-secret-0123456789abcdefghijkl"


def signed(method: str, target: str, body: bytes = b"", secret: str = SECRET) -> dict[str, str]:
    """Headers signed as the documentation's Python example does it."""
    timestamp = str(int(time.time()))
    message = f"{timestamp}\n{method}\n{target}\n".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"X-Parley-Timestamp": timestamp, "X-Parley-Signature": f"v1={digest}"}


@pytest.fixture
async def partner() -> AsyncIterator[PartnerRecords]:
    server = PartnerRecords(SECRET)
    server.add_account(
        PartnerAccount("A 1/x", "Ana García", Decimal("80.00"), "EUR", document_last4="1234")
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http(partner: PartnerRecords) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=partner.url.removesuffix("/partner")) as client:
        yield client


def test_parleys_signature_is_the_documented_one() -> None:
    body = b'{"amount":"1.00"}'
    expected = signed("POST", "/partner/accounts/A/promises", body)
    timestamp = expected["X-Parley-Timestamp"]
    ours = signature(SECRET.encode(), timestamp, "post", b"/partner/accounts/A/promises", body)
    assert ours == expected["X-Parley-Signature"]


async def test_unsigned_or_wrongly_signed_requests_are_refused(http: httpx.AsyncClient) -> None:
    target = "/partner/accounts/A%201%2Fx"
    assert (await http.get(target)).status_code == 401
    wrong = await http.get(target, headers=signed("GET", target, secret="not-the-secret"))
    assert wrong.status_code == 401
    other_target = await http.get(target, headers=signed("GET", "/partner/accounts/B"))
    assert other_target.status_code == 401
    good = await http.get(target, headers=signed("GET", target))
    assert good.status_code == 200
    assert good.json()["account_ref"] == "A 1/x"
    assert "1234" not in good.text  # the document never leaves the partner


async def test_every_post_needs_an_idempotency_key_used_for_one_body(
    http: httpx.AsyncClient, partner: PartnerRecords
) -> None:
    target = "/partner/accounts/A%201%2Fx/disputes"
    body = orjson.dumps({"reason": "not mine", "call_sid": "CA1"})
    missing = await http.post(target, content=body, headers=signed("POST", target, body))
    assert missing.status_code == 400
    key = {"Idempotency-Key": "k" * 64}
    first = await http.post(target, content=body, headers=signed("POST", target, body) | key)
    again = await http.post(target, content=body, headers=signed("POST", target, body) | key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = orjson.dumps({"reason": "something else", "call_sid": "CA1"})
    reused = await http.post(target, content=other, headers=signed("POST", target, other) | key)
    assert reused.status_code == 422
    assert len(partner.account("A 1/x").disputes) == 1


async def test_bad_bodies_are_refused_naming_the_field(http: httpx.AsyncClient) -> None:
    target = "/partner/accounts/A%201%2Fx/promises"
    key = {"Idempotency-Key": "p" * 64}
    body = orjson.dumps({"amount": 10.5, "currency": "EUR", "due_date": "2026-12-01"})
    refused = await http.post(target, content=body, headers=signed("POST", target, body) | key)
    assert refused.status_code == 400
    assert "amount" in refused.json()["error"]
    garbage = b"{not json"
    bad = await http.post(
        target, content=garbage, headers=signed("POST", target, garbage) | {"Idempotency-Key": "q"}
    )
    assert bad.status_code == 400
