"""Whole calls in which the agent acts on the account, through the real gateway.

The stand-in agent calls parley's tools as client tools over the bridge (as a real
agent does); what each call leaves behind is read back through the operator API.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import hmac
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from backoffice.accounts.debt_items import DebtItemInput, add_debt_item
from backoffice.store.db import Database
from backoffice.store.tables import contact_phones
from gateway.post_call_sweep import sweep_once
from gateway.standins.elevenlabs import (
    Analysis,
    CallTool,
    EndCall,
    Listen,
    PostCallWebhook,
    Say,
    Script,
)
from gateway.standins.resend_api import ResendStandIn
from gateway.standins.twilio_call import Callee
from tests.backoffice.factories import make_account, make_contact, make_contact_phone
from tests.integration.e2e import E2E, agent_options, caller, e2e
from tests.integration.harness import ORG_A_KEY, ORG_B_KEY

WEBHOOK_SECRET = "wsec_e2e_post_call_secret"
FRIDAY = "2026-11-20"  # two days after the rig's pinned Wednesday
DEBTOR = "+34600000001"


def db_of(rig: E2E) -> Database:
    database: Database = rig.gw.server.app.state.database
    return database


async def debtor_account(rig: E2E, *, phone: str = DEBTOR, external_id: str = "ACC-T1") -> str:
    db = db_of(rig)
    contact = await make_contact(
        db,
        "org-a",
        name="Ann Smith",
        phone=phone,
        document_last4="1234",
        timezone="Europe/Madrid",
        language="en",
    )
    return await make_account(
        db,
        "org-a",
        contact,
        external_id=external_id,
        reference="REF-1",
        total_amount=Decimal("120.50"),
        status="pending_contact",
    )


async def api(rig: E2E, path: str) -> dict[str, Any]:
    response = await rig.gw.http.get(path, headers={"X-API-Key": ORG_A_KEY})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def signed_post_call(data: dict[str, Any], secret: str = WEBHOOK_SECRET) -> tuple[bytes, str]:
    body = orjson.dumps(
        {"type": "post_call_transcription", "event_timestamp": int(time.time()), "data": data}
    )
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={stamp},v0={digest}"


def analysis_for(call_sid: str, conversation_id: str, disposition: str) -> dict[str, Any]:
    return {
        "agent_id": "agent-test",
        "conversation_id": conversation_id,
        "status": "done",
        "transcript": [
            {"role": "agent", "message": "Hello Ann.", "time_in_call_secs": 0},
            {
                "role": "agent",
                "message": "Registering it.",
                "time_in_call_secs": 9,
                "tool_calls": [{"tool_name": "register_promise", "request_id": "r1"}],
            },
        ],
        "metadata": {"start_time_unix_secs": 1763474400, "call_duration_secs": 21, "cost": 310},
        "analysis": {
            "call_successful": "success",
            "transcript_summary": "Ann promised to pay the balance on Friday.",
            "data_collection_results": {
                "contact_result": {"value": "right_party"},
                "disposition": {"value": disposition},
                "sentiment": {"value": "positive"},
                "willingness_to_pay": {"value": 4},
                "cooperation": {"value": "cooperative"},
            },
        },
        "conversation_initiation_client_data": {"dynamic_variables": {"call_sid": call_sid}},
    }


PROMISE_CALL = Script(
    language="en",
    first_message="Hello {{debtor_first_name}}, this is {{org_name}}.",
    steps=(
        Listen("Yes, it is me."),
        Say("Could you tell me the last four digits of your document?"),
        Listen("One two three four."),
        CallTool(
            "verify_identity",
            {"document_last4": "1234"},
            on_success="Thank you, you are verified.",
            on_error="I could not verify you. Goodbye.",
            end_on_error=True,
        ),
        CallTool("lookup_account", {}, on_success="Your balance is {{pending_balance}}."),
        Listen("I can pay all of it on Friday."),
        CallTool(
            "register_promise",
            {"amount": "{{pending_balance_amount}}", "date": FRIDAY},
            on_success="Your promise is registered. Goodbye!",
            on_error="I could not register it.",
        ),
        EndCall(via="client", reason="promise registered"),
    ),
)


async def test_greet_verify_promise_end_leaves_the_account_with_its_promise(
    tmp_path: Path,
) -> None:
    options = agent_options(script=PROMISE_CALL)
    async with e2e(tmp_path, options=options, elevenlabs_webhook_secret=WEBHOOK_SECRET) as rig:
        account = await debtor_account(rig)
        rig.callee(
            DEBTOR,
            caller("Yes, it is me.", "One two three four.", "I can pay all of it on Friday."),
        )
        placed = await rig.place_call(DEBTOR, account_id="ACC-T1", variables={})
        sid = placed["call_sid"]
        await rig.call_end(sid, timeout_s=60)
        record = await rig.ended_call(placed["call_ref"])
        conv = await rig.conversation_of(sid)
        assert record["outcome"] == "completed"
        results = {r.tool_name: r for r in conv.tool_calls}
        assert set(results) >= {"verify_identity", "lookup_account", "register_promise"}
        assert all(not r.is_error for r in results.values()), results
        assert "€120.50" in (results["lookup_account"].result or "")

        detail = await _settled(rig, account)
        assert detail["status"] == "promise_active"
        [promise] = detail["promises"]
        assert (promise["amount"], promise["due_date"], promise["status"]) == (
            "120.50",
            FRIDAY,
            "active",
        )
        [interaction] = detail["interactions"]
        assert interaction["channel"] == "call" and interaction["provider_id"] == sid
        assert interaction["status"] == "completed"
        assert {e["kind"] for e in detail["timeline"]} >= {"promise"}
        one = await api(rig, f"/api/accounts/{account}/interactions/{interaction['id']}")
        texts = [line["text"] for line in one["transcript"]]
        assert "I can pay all of it on Friday." in texts
        assert one["tools_used"] == [
            "verify_identity",
            "lookup_account",
            "register_promise",
            "end_call",
        ]

        # ElevenLabs' analysis arrives by the post-call webhook, three times over.
        data = analysis_for(sid, record["conversation_id"], "promise_to_pay")
        async with rig.live(call_sid=sid) as feed:
            for _ in range(3):
                body, signature = signed_post_call(data)
                response = await rig.gw.http.post(
                    "/elevenlabs/post-call",
                    content=body,
                    headers={
                        "ElevenLabs-Signature": signature,
                        "Content-Type": "application/json",
                    },
                )
                assert response.status_code == 200, response.text
            seen = await feed.wait_for("sentiment")
        assert seen["data"]["sentiment"] == "positive"
        assert seen["data"]["disposition"] == "promise_to_pay"
        detail = await api(rig, f"/api/accounts/{account}")
        assert [d["disposition"] for d in detail["dispositions"]] == ["promise_to_pay"]
        [interaction] = detail["interactions"]
        assert interaction["disposition"] == "promise_to_pay"
        assert interaction["willingness"] == 4
        assert interaction["summary"] == "Ann promised to pay the balance on Friday."
        assert detail["status"] == "promise_active"


async def _settled(rig: E2E, account: str) -> dict[str, Any]:
    """The account page once the end of the call has been recorded (beside the call)."""
    deadline = time.monotonic() + 5
    while True:
        detail = await api(rig, f"/api/accounts/{account}")
        interactions = detail["interactions"]
        if interactions and interactions[0]["status"] != "initiated":
            return detail
        assert time.monotonic() < deadline, detail
        await asyncio.sleep(0.05)


WRONG_PERSON_CALL = Script(
    language="en",
    first_message="Hello, may I speak with {{debtor_first_name}}?",
    steps=(
        Listen("No, she moved away."),
        CallTool(
            "report_wrong_person",
            {"note": "says Ann moved away"},
            on_success="Sorry. Could you give me a number where she can be reached?",
        ),
        Listen("Try six zero zero, one two three, four five six."),
        CallTool(
            "capture_alternate_number",
            {"number": "600 123 456", "relation": "third_party"},
            on_success="Thank you.",
        ),
        CallTool("lookup_account", {}, on_success="I see."),
        EndCall(goodbye="Goodbye.", via="client", reason="wrong person"),
    ),
)


async def test_a_wrong_person_gives_a_number_and_learns_nothing(tmp_path: Path) -> None:
    async with e2e(tmp_path, options=agent_options(script=WRONG_PERSON_CALL)) as rig:
        account = await debtor_account(rig)
        rig.callee(DEBTOR, caller("No, she moved away.", "Try six zero zero, one two three."))
        placed = await rig.place_call(DEBTOR, account_id="ACC-T1", variables={})
        sid = placed["call_sid"]
        await rig.call_end(sid, timeout_s=60)
        await rig.ended_call(placed["call_ref"])
        conv = await rig.conversation_of(sid)
        lookup = next(r for r in conv.tool_calls if r.tool_name == "lookup_account")
        assert "identity_not_verified" in (lookup.result or "")
        said = " ".join(turn.text for turn in conv.agent_turns)
        for amount in ("120.50", "120,50"):
            assert amount not in said and amount not in (lookup.result or "")

        detail = await _settled(rig, account)
        assert detail["status"] == "pending_contact"
        assert detail["promises"] == []
        async with db_of(rig).read() as conn:
            phones = {
                r.number: (r.state, r.source)
                for r in await conn.execute(
                    select(contact_phones.c.number, contact_phones.c.state, contact_phones.c.source)
                )
            }
        assert phones["+34600123456"] == ("valid", "third_party")
        kinds = {e["kind"] for e in detail["timeline"]}
        assert {"wrong_party", "alternate_number"} <= kinds


INBOUND_CALL = Script(
    language="en",
    first_message="Hello, this is {{org_name}}.",
    steps=(
        Listen("Hi, I got a letter from you."),
        CallTool(
            "verify_identity",
            {"document_last4": "1234"},
            on_success="Thanks {{debtor_first_name}}, you are verified.",
        ),
        CallTool("lookup_account", {}, on_success="You owe {{pending_balance}}."),
        EndCall(goodbye="Goodbye.", via="client"),
    ),
)


async def test_an_inbound_call_is_matched_by_an_alternate_number(tmp_path: Path) -> None:
    async with e2e(tmp_path, options=agent_options(script=INBOUND_CALL)) as rig:
        account = await debtor_account(rig)
        db = db_of(rig)
        contact = (await api(rig, f"/api/accounts/{account}"))["contact_id"]
        await make_contact_phone(db, "org-a", contact, "+34600000777", source="import")
        twilio_call = await rig.inbound_call(
            caller("Hi, I got a letter from you."), from_="+34600000777"
        )
        await rig.call_end(twilio_call.sid, timeout_s=60)
        conv = await rig.conversation_of(twilio_call.sid)
        variables = (conv.init or {}).get("dynamic_variables", {})
        assert variables["account_id"] == account
        assert variables["debtor_first_name"] == "Ann"
        assert variables["pending_balance"] == "€120.50"
        lookup = next(r for r in conv.tool_calls if r.tool_name == "lookup_account")
        assert "€120.50" in (lookup.result or "")

        detail = await _settled(rig, account)
        assert detail["interactions"][0]["direction"] == "inbound"
        # The debtor called in today: no outbound call to the account until tomorrow.
        response = await rig.gw.http.post(
            "/api/calls",
            json={"account_id": account, "language": "en"},
            headers={"X-API-Key": ORG_A_KEY},
        )
        assert response.status_code == 409, response.text
        assert response.json()["reason"] == "inbound_today"
        next_allowed = dt.datetime.fromisoformat(response.json()["next_allowed_at"])
        assert next_allowed.date() == dt.date(2026, 11, 19)


HUMAN = "+34600000999"
TRANSFER_CALL = Script(
    language="en",
    first_message="Hello {{debtor_first_name}}, this is {{org_name}}.",
    steps=(
        Listen("I want to talk to a person."),
        CallTool(
            "verify_identity",
            {"document_last4": "1234"},
            on_success="Thank you.",
        ),
        CallTool(
            "transfer_to_human",
            {"reason": "wants to discuss a payment plan with a person"},
            on_success="I am transferring you to a colleague now.",
        ),
    ),
)


async def _transfer_call(rig: E2E, human_answers: str) -> tuple[Any, dict[str, Any], str]:
    account = await debtor_account(rig)
    patched = await rig.gw.http.patch(
        "/api/org",
        json={"calls": {"human_transfer_number": HUMAN}},
        headers={"X-API-Key": ORG_A_KEY},
    )
    assert patched.status_code == 200, patched.text
    rig.callee(DEBTOR, caller("I want to talk to a person."))
    rig.twilio.callees[HUMAN] = Callee(answer=human_answers)  # type: ignore[arg-type]
    placed = await rig.place_call(DEBTOR, account_id="ACC-T1", variables={})
    twilio_call = await rig.call_end(placed["call_sid"], timeout_s=60)
    record = await rig.ended_call(placed["call_ref"])
    return twilio_call, record, account


async def test_a_warm_transfer_briefs_the_person_then_connects_the_caller(
    tmp_path: Path,
) -> None:
    async with e2e(tmp_path, options=agent_options(script=TRANSFER_CALL)) as rig:
        twilio_call, record, account = await _transfer_call(rig, "answer")
        assert twilio_call.transfers == [HUMAN]
        assert twilio_call.dial_results == ["completed"]
        [brief] = twilio_call.whispers
        assert "verified debtor" in brief and "payment plan" in brief
        assert "120.50" not in brief and "€" not in brief
        assert record["outcome"] == "transferred"
        detail = await _settled(rig, account)
        assert detail["interactions"][0]["status"] == "transferred"


async def test_an_unanswered_transfer_tells_the_caller_and_ends(tmp_path: Path) -> None:
    async with e2e(tmp_path, options=agent_options(script=TRANSFER_CALL)) as rig:
        twilio_call, _, account = await _transfer_call(rig, "no-answer")
        assert twilio_call.dial_results == ["no-answer"]
        assert twilio_call.whispers == []
        assert any("no colleague is available" in text for text in twilio_call.says)
        deadline = time.monotonic() + 5
        while (await _settled(rig, account))["interactions"][0]["status"] == "transferred":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        detail = await _settled(rig, account)
        assert detail["interactions"][0]["status"] == "transfer_unanswered"


SUMMARY_CALL = Script(
    language="es",
    first_message="Hola {{debtor_first_name}}.",
    steps=(
        Listen("Sí, soy yo."),
        CallTool("verify_identity", {"document_last4": "1234"}, on_success="Gracias."),
        CallTool(
            "send_debt_summary",
            {"channel": "email"},
            on_success="Se lo he enviado por correo.",
            on_error="No he podido enviarlo.",
        ),
        EndCall(goodbye="Adiós.", via="client"),
    ),
)


async def test_a_debt_summary_sent_mid_call_lists_the_debt_items_in_spanish(
    tmp_path: Path,
) -> None:
    resend = ResendStandIn({"re_e2e_managed_000000000000": "parley"})
    await resend.start()
    try:
        async with e2e(
            tmp_path,
            options=agent_options(script=SUMMARY_CALL),
            resend_api_url=resend.url,
            resend_api_key="re_e2e_managed_000000000000",
        ) as rig:
            db = db_of(rig)
            contact = await make_contact(
                db,
                "org-a",
                name="Ana García",
                phone=DEBTOR,
                email="ana@example.es",
                document_last4="1234",
                timezone="Europe/Madrid",
                language="es-ES",
            )
            account = await make_account(
                db,
                "org-a",
                contact,
                external_id="ACC-S1",
                reference="CTA-7",
                total_amount=Decimal("1050.00"),
            )
            async with db.transaction() as conn:
                for kind, amount in (("capital", "1000.00"), ("interest", "50.00")):
                    await add_debt_item(
                        conn,
                        org_id="org-a",
                        account_id=account,
                        data=DebtItemInput(kind=kind, amount=Decimal(amount), state="applied"),  # type: ignore[arg-type]
                        actor="test",
                    )
            headers = {"X-API-Key": ORG_A_KEY}
            domain = await rig.gw.http.post(
                "/api/email/domains", json={"domain": "mail.acme.test"}, headers=headers
            )
            assert domain.status_code == 201, domain.text
            domain_id = domain.json()["id"]
            await rig.gw.http.post(f"/api/email/domains/{domain_id}/verify", headers=headers)
            rig.callee(DEBTOR, caller("Sí, soy yo."))
            # No language given: the call (and the summary) speak the contact's.
            response = await rig.gw.http.post(
                "/api/calls",
                json={"account_id": "ACC-S1", "opening_mode": "agent_first"},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            placed = response.json()
            await rig.call_end(placed["call_sid"], timeout_s=60)
            conv = await rig.conversation_of(placed["call_sid"])
            sent = next(r for r in conv.tool_calls if r.tool_name == "send_debt_summary")
            assert sent.is_error is False and '"ok":true' in (sent.result or ""), sent.result
            email = await resend.wait_for_email()
            assert "ana@example.es" in str(email.params["to"])
            text = email.params["text"]
            assert text.startswith("Hola Ana"), text
            for line in ("Capital: 1.000,00\xa0€", "Intereses: 50,00\xa0€", "1.050,00\xa0€"):
                assert line in text, (line, text)
            messages = await api(rig, f"/api/accounts/{account}/messages")
            assert any(m["channel"] == "email" for m in messages["items"]), messages
    finally:
        await resend.stop()


ANALYSED_CALL = dataclasses.replace(
    PROMISE_CALL,
    analysis=Analysis(
        data={
            "contact_result": "right_party",
            "disposition": "promise_to_pay",
            "sentiment": "positive",
            "willingness_to_pay": 4,
            "cooperation": "cooperative",
        },
        summary="The debtor promised to pay on Friday.",
    ),
)
PROMISE_LINES = ("Yes, it is me.", "One two three four.", "I can pay all of it on Friday.")


async def _call_with_lost_webhook(rig: E2E) -> tuple[str, dict[str, Any]]:
    account = await debtor_account(rig)
    rig.agent.options.post_call_webhook = PostCallWebhook(
        url=f"{rig.gw.url}/elevenlabs/post-call", secret=WEBHOOK_SECRET, fault="lost"
    )
    rig.callee(DEBTOR, caller(*PROMISE_LINES))
    placed = await rig.place_call(DEBTOR, account_id="ACC-T1", variables={})
    await rig.call_end(placed["call_sid"], timeout_s=60)
    await rig.ended_call(placed["call_ref"])
    detail = await _settled(rig, account)
    assert detail["dispositions"] == []  # the webhook never came
    return account, placed


async def test_the_operator_fetches_the_analysis_when_the_webhook_never_came(
    tmp_path: Path,
) -> None:
    options = agent_options(script=ANALYSED_CALL, analysis_delay_s=0.0)
    async with e2e(tmp_path, options=options, elevenlabs_webhook_secret=WEBHOOK_SECRET) as rig:
        account, placed = await _call_with_lost_webhook(rig)
        headers = {"X-API-Key": ORG_A_KEY}
        fetched = await rig.gw.http.post(
            f"/api/calls/{placed['call_ref']}/fetch-transcript", headers=headers
        )
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["status"] == "stored"
        detail = await api(rig, f"/api/accounts/{account}")
        assert [d["disposition"] for d in detail["dispositions"]] == ["promise_to_pay"]
        [interaction] = detail["interactions"]
        assert interaction["summary"] == "The debtor promised to pay on Friday."
        assert interaction["outcome_source"] == "fetch"
        again = await rig.gw.http.post(
            f"/api/calls/{placed['call_ref']}/fetch-transcript", headers=headers
        )
        assert again.status_code == 200
        assert len((await api(rig, f"/api/accounts/{account}"))["dispositions"]) == 1
        other = await rig.gw.http.post(
            f"/api/calls/{placed['call_ref']}/fetch-transcript",
            headers={"X-API-Key": ORG_B_KEY},
        )
        assert other.status_code == 404


async def test_the_sweep_fills_in_calls_left_without_analysis(tmp_path: Path) -> None:
    options = agent_options(script=ANALYSED_CALL, analysis_delay_s=0.0)
    async with e2e(tmp_path, options=options, elevenlabs_webhook_secret=WEBHOOK_SECRET) as rig:
        account, _ = await _call_with_lost_webhook(rig)
        services = rig.gw.services
        assert await sweep_once(services) == 0  # too fresh: the webhook may still come
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
        assert await sweep_once(services, later) == 1
        assert await sweep_once(services, later) == 0  # stored once
        detail = await api(rig, f"/api/accounts/{account}")
        assert [d["disposition"] for d in detail["dispositions"]] == ["promise_to_pay"]


#: Every tool that acts on the account, with parameters a debtor's call would give.
EVERY_TOOL: tuple[tuple[str, dict[str, Any]], ...] = (
    ("verify_identity", {"document_last4": "1234"}),
    ("lookup_account", {}),
    ("set_channel_preference", {"channel": "whatsapp"}),
    ("schedule_callback", {"at": "2026-11-19T18:00", "note": "after work"}),
    ("capture_alternate_number", {"number": "+34 611 222 333", "relation": "debtor"}),
    ("register_promise", {"amount": "50.00", "date": FRIDAY}),
    ("register_hardship", {"reason": "reduced hours at work"}),
    ("register_dispute", {"reason": "the fees are wrong"}),
    ("escalate", {"reason": "wants a written statement"}),
    ("opt_out", {"reason": "asked not to be called again"}),
)

EVERY_TOOL_CALL = Script(
    language="en",
    first_message="Hello {{debtor_first_name}}.",
    steps=(
        Listen("Yes, it is me."),
        *(CallTool(name, params, on_success="Done.") for name, params in EVERY_TOOL),
        EndCall(goodbye="Goodbye.", via="client"),
    ),
)


async def test_every_tool_works_over_the_bridge(tmp_path: Path) -> None:
    async with e2e(tmp_path, options=agent_options(script=EVERY_TOOL_CALL)) as rig:
        account = await debtor_account(rig)
        rig.callee(DEBTOR, caller("Yes, it is me."))
        placed = await rig.place_call(DEBTOR, account_id="ACC-T1", variables={})
        await rig.call_end(placed["call_sid"], timeout_s=60)
        conv = await rig.conversation_of(placed["call_sid"])
        results = {r.tool_name: r for r in conv.tool_calls if r.tool_name != "end_call"}
        assert list(results) == [name for name, _ in EVERY_TOOL]
        for name, record in results.items():
            assert record.is_error is False, (name, record.result)
            assert '"ok":true' in (record.result or ""), (name, record.result)
        detail = await _settled(rig, account)
        kinds = {e["kind"] for e in detail["timeline"]}
        assert kinds >= {
            "channel_preference",
            "callback",
            "alternate_number",
            "promise",
            "hardship",
            "dispute",
            "escalation",
            "opt_out",
        }
        assert detail["contact"]["opted_out"] is True
