"""A synced agent runs a whole call: stand-in ElevenLabs, stand-in Twilio, real gateway.

``parley agent sync`` updates the operator's agent in the ElevenLabs stand-in; the
stand-in then runs the call as that agent is configured (its overrides and dynamic
variables enforced, its tools as client tools over the gateway's socket or as server
tools POSTed to the gateway's ``/tools/{name}`` with the stored secret) and sends the
signed post-call webhook. The account ends with its promise and disposition.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from elevenlabs import AsyncElevenLabs

from agent_tools.catalog import default_registry
from bin.agent_cmd import sync_agent
from gateway.agent_config import AgentDefinition, build_agent_definition
from gateway.standins.elevenlabs import Analysis, PostCallWebhook
from gateway.standins.elevenlabs.workspace import StoredAgent
from tests.integration.e2e import ELEVENLABS_KEY, agent_options, caller, e2e
from tests.integration.test_agent_tools_e2e import (
    DEBTOR,
    PROMISE_CALL,
    WEBHOOK_SECRET,
    _settled,
    api,
    debtor_account,
)

TOOL_SECRET = "tool-secret-for-sync-e2e-01"
SCRIPT = dataclasses.replace(
    PROMISE_CALL,
    analysis=Analysis(
        data={
            "contact_result": "right_party",
            "disposition": "promise_to_pay",
            "sentiment": "positive",
            "willingness_to_pay": 5,
            "cooperation": "cooperative",
        },
        summary="{{debtor_first_name}} promised to pay on Friday.",
    ),
)


@pytest.mark.parametrize("mode", ["client", "webhook"])
async def test_a_synced_agent_takes_a_promise_end_to_end(tmp_path: Path, mode: str) -> None:
    options = agent_options(script=SCRIPT, analysis_delay_s=0.05)
    async with e2e(
        tmp_path, options=options, tool_secret=TOOL_SECRET, elevenlabs_webhook_secret=WEBHOOK_SECRET
    ) as rig:
        standin, public_url = rig.agent, rig.gw.settings.public_url
        # The operator's agent exists (PARLEY_ELEVENLABS_AGENT_ID); sync updates it.
        standin.workspace.agents["agent-test"] = StoredAgent("agent-test", "", {}, {}, [], 0, 0)

        def definition(secret_id: str | None) -> AgentDefinition:
            return build_agent_definition(
                default_registry(),
                tool_mode="webhook" if mode == "webhook" else "client",
                public_url=public_url,
                tool_secret={"secret_id": secret_id} if secret_id else None,
                language="en",
            )

        sdk = AsyncElevenLabs(api_key=ELEVENLABS_KEY, base_url=standin.base_url)
        synced = await sync_agent(
            sdk,
            definition,
            agent_id="agent-test",
            tool_secret=TOOL_SECRET if mode == "webhook" else None,
        )
        assert synced.action == "updated"
        standin.options.post_call_webhook = PostCallWebhook(
            f"{public_url}/elevenlabs/post-call", WEBHOOK_SECRET
        )

        account = await debtor_account(rig)
        rig.callee(
            DEBTOR,
            caller("Yes, it is me.", "One two three four.", "I can pay all of it on Friday."),
        )
        placed = await rig.place_call(DEBTOR, account_id="ACC-T1", variables={})
        await rig.call_end(placed["call_sid"], timeout_s=60)
        conv = await rig.conversation_of(placed["call_sid"])
        await conv.wait_closed()
        assert conv.errors_sent == []  # every override enabled, every variable sent
        calls = {c.tool_name: c for c in conv.tool_calls}
        expected = "webhook" if mode == "webhook" else "client"
        assert {calls[n].tool_type for n in ("verify_identity", "register_promise")} == {expected}
        assert all(not c.is_error for c in calls.values()), calls
        if mode == "webhook":
            assert calls["register_promise"].webhook is not None
            assert calls["register_promise"].webhook.status == 200

        detail = await _settled(rig, account)
        assert detail["status"] == "promise_active"
        assert [p["status"] for p in detail["promises"]] == ["active"]

        await standin.wait_for_deliveries(1, timeout_s=15)
        assert standin.deliveries[0].status == 200

        latest = await api(rig, f"/api/accounts/{account}")
        for _ in range(100):  # the webhook is stored beside its answer
            if latest["dispositions"]:
                break
            await asyncio.sleep(0.05)
            latest = await api(rig, f"/api/accounts/{account}")
        assert [d["disposition"] for d in latest["dispositions"]] == ["promise_to_pay"]
        [interaction] = latest["interactions"]
        assert interaction["willingness"] == 5
        assert interaction["summary"] == "Ann promised to pay on Friday."
