"""Server-tool webhooks and the post-call webhook: authenticated, exactly once, refused
with nothing stored when unsigned, stale or malformed."""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from backoffice.store.db import Database
from backoffice.store.tables import disposition_history, interactions, promises
from tests.backoffice.factories import make_account, make_contact
from tests.integration.harness import ORG_A_KEY, Gateway, call_sid
from tests.integration.test_agent_tools_e2e import EVERY_TOOL

TOOL_SECRET = "tool-secret-for-tests-0001"
WEBHOOK_SECRET = "wsec_post_call_for_tests"
DEBTOR = "+34600000042"


def db_of(gw: Gateway) -> Database:
    database: Database = gw.server.app.state.database
    return database


async def debtor(gw: Gateway) -> str:
    db = db_of(gw)
    contact = await make_contact(
        db, "org-a", name="Ann Smith", phone=DEBTOR, document_last4="1234", language="en"
    )
    return await make_account(
        db, "org-a", contact, total_amount=Decimal("300.00"), status="pending_contact"
    )


async def tool(
    gw: Gateway, name: str, body: dict[str, Any], secret: str | None = TOOL_SECRET, **headers: str
) -> tuple[int, Any]:
    if secret is not None:
        headers["X-Parley-Tool-Secret"] = secret
    response = await gw.http.post(f"/tools/{name}", content=orjson.dumps(body), headers=headers)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


async def count(gw: Gateway, table: Any) -> int:
    async with db_of(gw).read() as conn:
        return len((await conn.execute(select(table))).all())


async def test_tool_webhooks_need_the_shared_secret(tmp_path: Path) -> None:
    async with Gateway(tmp_path, tool_secret=TOOL_SECRET) as gw:
        await debtor(gw)
        await gw.inbound_call(call_sid(1), from_=DEBTOR)
        body = {"call_sid": call_sid(1), "document_last4": "1234"}
        assert (await tool(gw, "verify_identity", body, secret=None))[0] == 401
        assert (await tool(gw, "verify_identity", body, secret="wrong"))[0] == 401
        status, result = await tool(gw, "verify_identity", body)
        assert status == 200 and result["ok"]
    (tmp_path / "unset").mkdir()
    async with Gateway(tmp_path / "unset") as gw:  # no secret configured: refuse all
        assert (await tool(gw, "verify_identity", body, secret=""))[0] == 401


async def test_a_tool_webhook_acts_on_the_call_it_names(tmp_path: Path) -> None:
    async with Gateway(tmp_path, tool_secret=TOOL_SECRET) as gw:
        await debtor(gw)
        await gw.inbound_call(call_sid(2), from_=DEBTOR)
        status, refused = await tool(gw, "lookup_account", {"call_sid": call_sid(2)})
        assert status == 200 and refused["reason"] == "identity_not_verified"
        flat = {"call_sid": call_sid(2), "document_last4": "1234", "conversation_id": "conv_x"}
        assert (await tool(gw, "verify_identity", flat))[1]["ok"]
        envelope = {
            "tool_call_id": "tc-env-1",
            "tool_name": "lookup_account",
            "parameters": {"call_sid": call_sid(2)},
        }
        status, looked = await tool(gw, "lookup_account", envelope)
        assert status == 200 and looked["pending_balance"] == "€300.00"
        unknown = await tool(gw, "lookup_account", {"call_sid": call_sid(99)})
        assert unknown[0] == 404 and "call_sid" in unknown[1]["error"]
        not_json = await gw.http.post(
            "/tools/lookup_account",
            content=b"{oops",
            headers={"X-Parley-Tool-Secret": TOOL_SECRET},
        )
        assert not_json.status_code == 400


async def test_a_retried_tool_webhook_registers_one_promise(tmp_path: Path) -> None:
    async with Gateway(tmp_path, tool_secret=TOOL_SECRET) as gw:
        await debtor(gw)
        await gw.inbound_call(call_sid(3), from_=DEBTOR)
        await tool(gw, "verify_identity", {"call_sid": call_sid(3), "document_last4": "1234"})
        body = {"call_sid": call_sid(3), "amount": "100.00", "date": "2026-11-20"}
        answers = [await tool(gw, "register_promise", body) for _ in range(3)]
        assert [a[0] for a in answers] == [200, 200, 200]
        assert answers[0][1] == answers[1][1] == answers[2][1]
        assert answers[0][1]["ok"], answers[0]
        assert await count(gw, promises) == 1
        keyed = [
            await tool(gw, "register_promise", body, **{"Idempotency-Key": f"k{n}"}) for n in (1, 1)
        ]
        assert keyed[0][1] == keyed[1][1]
        assert await count(gw, promises) == 2  # a new key is a new request


def signed(data: dict[str, Any], *, at: float | None = None, secret: str = WEBHOOK_SECRET) -> Any:
    stamp = str(int(at if at is not None else time.time()))
    body = orjson.dumps({"type": "post_call_transcription", "event_timestamp": 1, "data": data})
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"ElevenLabs-Signature": f"t={stamp},v0={digest}"}


def report(sid: str) -> dict[str, Any]:
    return {
        "conversation_id": "conv_post_1",
        "status": "done",
        "transcript": [{"role": "user", "message": "I will pay Friday."}],
        "metadata": {"call_duration_secs": 30, "cost": 120},
        "analysis": {
            "transcript_summary": "Promised Friday.",
            "data_collection_results": {
                "disposition": {"value": "promise_to_pay"},
                "willingness_to_pay": {"value": "5"},
                "sentiment": {"value": "neutral"},
            },
        },
        "conversation_initiation_client_data": {"dynamic_variables": {"call_sid": sid}},
    }


@pytest.mark.parametrize(
    "attack",
    ["unsigned", "wrong_secret", "tampered", "stale", "future", "malformed", "not_configured"],
)
async def test_a_refused_post_call_webhook_stores_nothing(tmp_path: Path, attack: str) -> None:
    settings = {} if attack == "not_configured" else {"elevenlabs_webhook_secret": WEBHOOK_SECRET}
    async with Gateway(tmp_path, **settings) as gw:
        await debtor(gw)
        await gw.inbound_call(call_sid(4), from_=DEBTOR)
        data = report(call_sid(4))
        body, headers = signed(data)
        expected = 401
        if attack == "unsigned":
            headers = {}
        elif attack == "wrong_secret":
            body, headers = signed(data, secret="someone-else")
        elif attack == "tampered":
            body = body.replace(b"promise_to_pay", b"paid_in_full__")
        elif attack == "stale":
            body, headers = signed(data, at=time.time() - 31 * 60)
        elif attack == "future":
            body, headers = signed(data, at=time.time() + 3600)
        elif attack == "malformed":
            body, headers = signed({"transcript": "not a list"})
            expected = 400
        response = await gw.http.post("/elevenlabs/post-call", content=body, headers=headers)
        assert response.status_code == expected, response.text
        assert await count(gw, disposition_history) == 0
        async with db_of(gw).read() as conn:
            summaries = [r.summary for r in await conn.execute(select(interactions.c.summary))]
        assert summaries == [None]


async def test_a_post_call_webhook_is_stored_once_however_often_it_comes(tmp_path: Path) -> None:
    async with Gateway(tmp_path, elevenlabs_webhook_secret=WEBHOOK_SECRET) as gw:
        account = await debtor(gw)
        await gw.inbound_call(call_sid(5), from_=DEBTOR)
        for _ in range(3):
            body, headers = signed(report(call_sid(5)))
            response = await gw.http.post("/elevenlabs/post-call", content=body, headers=headers)
            assert response.status_code == 200
            assert response.json()["status"] == "stored"
        assert await count(gw, disposition_history) == 1
        detail = (
            await gw.http.get(f"/api/accounts/{account}", headers={"X-API-Key": ORG_A_KEY})
        ).json()
        [interaction] = detail["interactions"]
        assert interaction["summary"] == "Promised Friday."
        assert interaction["willingness"] == 5
        assert interaction["duration_s"] == 30
        assert interaction["outcome_source"] == "webhook"
        assert detail["status"] == "promise_active"


async def test_every_tool_works_as_a_server_tool(tmp_path: Path) -> None:
    async with Gateway(tmp_path, tool_secret=TOOL_SECRET) as gw:
        account = await debtor(gw)
        await gw.inbound_call(call_sid(6), from_=DEBTOR)
        for name, params in EVERY_TOOL:
            status, result = await tool(gw, name, {"call_sid": call_sid(6), **params})
            assert status == 200, (name, result)
            assert result["ok"] is True, (name, result)
        detail = (
            await gw.http.get(f"/api/accounts/{account}", headers={"X-API-Key": ORG_A_KEY})
        ).json()
        kinds = {e["kind"] for e in detail["timeline"]}
        assert {"promise", "callback", "dispute", "hardship", "escalation", "opt_out"} <= kinds
