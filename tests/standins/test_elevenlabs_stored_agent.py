"""An agent created over REST configures the conversations opened with its id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from gateway.standins.elevenlabs import AgentOptions, ElevenLabsStandIn, EndCall, Script
from tests.standins.el_peer import peer

KEY = "xi-stored-agent"


def body(**platform: Any) -> dict[str, Any]:
    return {
        "conversation_config": {
            "agent": {
                "first_message": "Hola {{debtor_first_name}}, de {{org_name}}.",
                "language": "es",
                "prompt": {"prompt": "Balance {{balance}}; now {{system__time_utc}}."},
            },
            "tts": {"agent_output_audio_format": "pcm_16000"},
            "asr": {"user_input_audio_format": "pcm_16000"},
        },
        "platform_settings": {
            "overrides": {
                "conversation_config_override": {
                    "agent": {"first_message": True, "language": True}
                }
            },
            **platform,
        },
    }


async def create(standin: ElevenLabsStandIn, payload: dict[str, Any]) -> str:
    async with httpx.AsyncClient(base_url=standin.base_url) as http:
        answer = await http.post(
            "/v1/convai/agents/create", json=payload, headers={"xi-api-key": KEY}
        )
    assert answer.status_code == 200, answer.text
    agent_id: str = answer.json()["agent_id"]
    return agent_id


def options(**extra: Any) -> AgentOptions:
    script = Script("es", "unused", (EndCall(via="system"),))
    return AgentOptions(api_key=KEY, ping_interval_s=60, script=script, **extra)


FULL = {"debtor_first_name": "Ana", "org_name": "Acme", "balance": "10 EUR"}


async def test_the_agents_first_message_formats_and_variables_apply() -> None:
    async with ElevenLabsStandIn(options()) as standin:
        agent_id = await create(standin, body())
        async with peer(standin, f"agent_id={agent_id}") as client:
            await client.init(dynamic_variables=FULL)
            meta = await client.wait_for("conversation_initiation_metadata")
            first = await client.wait_for("agent_response")
            await client.closed()
        record = await standin.wait_for_conversation()
    assert meta["conversation_initiation_metadata_event"]["agent_output_audio_format"] == (
        "pcm_16000"
    )
    assert first["agent_response_event"]["agent_response"] == "Hola Ana, de Acme."
    assert record.language == "es"


async def test_a_variable_the_prompt_needs_but_the_client_omits_closes_with_1008() -> None:
    async with ElevenLabsStandIn(options()) as standin:
        agent_id = await create(standin, body())
        async with peer(standin, f"agent_id={agent_id}") as client:
            await client.init(dynamic_variables={"debtor_first_name": "Ana", "org_name": "Acme"})
            error = await client.wait_for("error")
            await client.closed()
        record = await standin.wait_for_conversation()
        await record.wait_closed()
    assert error["error_event"]["error_type"] == "missing_dynamic_variable"
    assert "balance" in error["error_event"]["message"]
    assert record.close_code == 1008 and record.status == "failed"


async def test_placeholders_may_stand_in_when_allowed() -> None:
    payload = body()
    payload["conversation_config"]["agent"]["dynamic_variables"] = {
        "dynamic_variable_placeholders": {"balance": "0"}
    }
    async with ElevenLabsStandIn(options(placeholders_fill_missing=True)) as standin:
        agent_id = await create(standin, payload)
        async with peer(standin, f"agent_id={agent_id}") as client:
            await client.init(dynamic_variables={"debtor_first_name": "Ana", "org_name": "Acme"})
            await client.closed()
        record = await standin.wait_for_conversation()
    assert record.errors_sent == [] and record.ended_with_end_call


@pytest.mark.parametrize("strict", [True, False])
async def test_an_override_the_agent_does_not_enable(strict: bool) -> None:
    async with ElevenLabsStandIn(options(strict_overrides=strict)) as standin:
        agent_id = await create(standin, body())
        async with peer(standin, f"agent_id={agent_id}") as client:
            await client.send(
                {
                    "type": "conversation_initiation_client_data",
                    "dynamic_variables": FULL,
                    "conversation_config_override": {
                        "agent": {"language": "en"}, "tts": {"voice_id": "v1"}
                    },
                }
            )
            await client.closed()
        record = await standin.wait_for_conversation()
    if strict:
        assert record.errors_sent[0]["error_type"] == "override_error"
        assert "tts.voice_id" in record.errors_sent[0]["message"]
        assert record.close_code == 1008
    else:
        assert record.errors_sent == [] and record.language == "en"


async def test_a_private_agent_needs_a_signed_url() -> None:
    async with ElevenLabsStandIn(options()) as standin:
        agent_id = await create(standin, body(auth={"enable_auth": True}))
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{standin.ws_url}?agent_id={agent_id}"):
                pass
        async with httpx.AsyncClient(base_url=standin.base_url) as http:
            signed = (
                await http.get(
                    "/v1/convai/conversation/get-signed-url",
                    params={"agent_id": agent_id},
                    headers={"xi-api-key": KEY},
                )
            ).json()["signed_url"]
        async with peer(standin, url=signed) as client:
            await client.init(dynamic_variables=FULL)
            await client.closed()
        record = await standin.wait_for_conversation()
    assert refused.value.response.status_code == 403
    assert record.ended_with_end_call
