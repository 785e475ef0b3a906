"""A whole call for an organization whose accounts live in its own system of record.

parley keeps the call (session, identity, exactly-once, compliance); the partner's
system, reached over signed HTTP (its stand-in here), keeps the debt and receives
every outcome.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from gateway.standins.elevenlabs import CallTool, EndCall, Listen, Script
from gateway.standins.partner_accounts import PartnerAccount, PartnerPhone
from gateway.standins.partner_records import PartnerRecords
from gateway.standins.waiting import poll_until
from tests.integration.e2e import agent_options, caller, e2e
from tests.integration.harness import ORG_A_KEY

SECRET = "partner-signing-secret-" + "x" * 20
DEBTOR = "+34600000321"
FRIDAY = "2026-11-20"

REMOTE_CALL = Script(
    language="en",
    first_message="Hello {{debtor_first_name}}.",
    steps=(
        Listen("Yes, it is me."),
        CallTool("verify_identity", {"document_last4": "4321"}, on_success="Thanks."),
        CallTool("lookup_account", {}, on_success="You owe {{tool_result.pending_balance}}."),
        CallTool(
            "register_promise",
            {"amount": "80.00", "date": FRIDAY},
            on_success="Registered.",
        ),
        EndCall(goodbye="Goodbye.", via="client"),
    ),
)


async def test_a_call_on_the_partners_system_lands_there(tmp_path: Path) -> None:
    partner = PartnerRecords(SECRET)
    await partner.start()
    try:
        partner.ledger.add(
            PartnerAccount(
                ref="P-77",
                contact_name="Ann Partner",
                pending_balance=Decimal("200.00"),
                currency="EUR",
                contact_id="C-77",
                reference="LOAN-77",
                language="en",
                timezone="Europe/Madrid",
                phones=[PartnerPhone(DEBTOR)],
                document_last4="4321",
            )
        )
        async with e2e(tmp_path, options=agent_options(script=REMOTE_CALL)) as rig:
            headers = {"X-API-Key": ORG_A_KEY}
            configured = await rig.gw.http.put(
                "/api/org/records",
                json={"kind": "remote", "url": partner.url, "signing_secret": SECRET},
                headers=headers,
            )
            assert configured.status_code == 200, configured.text
            rig.callee(DEBTOR, caller("Yes, it is me."))
            response = await rig.gw.http.post(
                "/api/calls",
                json={"account_id": "P-77", "opening_mode": "agent_first"},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            placed = response.json()
            assert placed["to"] == DEBTOR  # the partner's number for the account
            await rig.call_end(placed["call_sid"], timeout_s=60)
            conv = await rig.conversation_of(placed["call_sid"])
            variables = (conv.init or {}).get("dynamic_variables", {})
            assert variables["debtor_first_name"] == "Ann"
            results = {r.tool_name: r for r in conv.tool_calls}
            for name in ("verify_identity", "lookup_account", "register_promise"):
                assert results[name].is_error is False, (name, results[name].result)
                assert '"ok":true' in (results[name].result or ""), results[name].result
            assert "€200.00" in (results["lookup_account"].result or "")
            await rig.ended_call(placed["call_ref"])
            account = partner.ledger.account("P-77")
            assert account is not None
            assert [(p["amount"], p["due_date"]) for p in account.promises] == [("80.00", FRIDAY)]
            # The call's end is reported beside the call, a moment after it.
            await poll_until(
                lambda: any(r.target.endswith("/outcome") for r in partner.requests), 5
            )
            [outcome] = [r.json() for r in partner.requests if r.target.endswith("/outcome")]
            assert outcome["status"] == "completed"
    finally:
        await partner.stop()
