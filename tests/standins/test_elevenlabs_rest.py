"""The ElevenLabs stand-in's REST API, driven by the real ``elevenlabs`` SDK."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from elevenlabs import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.types import (
    AgentPlatformSettingsRequestModel,
    ConversationalConfig,
    GetConversationResponseModel,
    GetConversationsPageResponseModel,
)

from gateway.standins.elevenlabs import (
    AgentOptions,
    Analysis,
    CallTool,
    ElevenLabsStandIn,
    EndCall,
    Listen,
    Script,
)
from tests.standins.el_peer import peer

KEY = "xi-rest-test"


def client_tool(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "client",
        "name": name,
        "description": f"Do {name}.",
        "parameters": {
            "type": "object",
            "properties": {"reason": {"type": "string", "description": "Why."}},
            "required": [],
        },
        "expects_response": True,
        "response_timeout_secs": 5,
        **extra,
    }


def agent_config(*tools: dict[str, Any], language: str = "es") -> dict[str, Any]:
    return {
        "agent": {
            "first_message": "Hola {{name}}",
            "language": language,
            "prompt": {"prompt": "You help {{name}}.", "tools": list(tools)},
        },
        "tts": {"agent_output_audio_format": "ulaw_8000"},
        "asr": {"user_input_audio_format": "ulaw_8000"},
    }


async def test_agents_create_get_patch_list_delete_through_the_sdk() -> None:
    async with ElevenLabsStandIn(AgentOptions(api_key=KEY)) as standin:
        sdk = AsyncElevenLabs(api_key=KEY, base_url=standin.base_url)
        agents = sdk.conversational_ai.agents
        created = await agents.create(
            conversation_config=ConversationalConfig.model_validate(
                agent_config(client_tool("end_call"))
            ),
            platform_settings=AgentPlatformSettingsRequestModel.model_validate(
                {"auth": {"enable_auth": True}}
            ),
            name="collections",
            tags=["parley"],
        )
        agent_id = created.agent_id
        assert agent_id.startswith("agent_")

        fetched = await agents.get(agent_id)
        assert fetched.name == "collections"
        assert fetched.conversation_config.agent is not None
        assert fetched.conversation_config.agent.language == "es"

        # A partial update: the language changes, the prompt and tools stay.
        updated = await agents.update(
            agent_id,
            conversation_config=ConversationalConfig.model_validate({"agent": {"language": "en"}}),
            name="collections v2",
        )
        assert updated.name == "collections v2"
        stored = standin.agents[agent_id]
        assert stored.language == "en"
        assert stored.prompt == "You help {{name}}."
        assert list(stored.tools()) == ["end_call"]
        assert stored.enable_auth
        assert [method for method, _ in stored.requests] == ["POST", "PATCH"]

        page = await agents.list()
        assert [a.agent_id for a in page.agents] == [agent_id]
        assert page.agents[0].name == "collections v2" and not page.has_more

        await agents.delete(agent_id)
        with pytest.raises(ApiError) as gone:
            await agents.get(agent_id)
        assert gone.value.status_code == 404


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        ({"name": "no config"}, ["body", "conversation_config"], "Field required"),
        (
            {"conversation_config": agent_config(client_tool("a"), client_tool("a"))},
            ["body", "conversation_config", "agent", "prompt", "tools", 1, "name"],
            "duplicate tool name",
        ),
        (
            {
                "conversation_config": agent_config(
                    client_tool(
                        "a",
                        parameters={
                            "type": "object",
                            "properties": {
                                "x": {"type": "string", "description": "d", "dynamic_variable": "v"}
                            },
                        },
                    )
                )
            },
            ["body", "conversation_config", "agent", "prompt", "tools", 0, "parameters",
             "properties", "x"],
            "only one of description, dynamic_variable",
        ),
        (
            {
                "conversation_config": agent_config(
                    {"type": "webhook", "name": "w", "description": "d",
                     "api_schema": {"url": "not a url", "method": "POST"}}
                )
            },
            ["body", "conversation_config", "agent", "prompt", "tools", 0, "api_schema", "url"],
            "absolute http(s) URL",
        ),
        (
            {"conversation_config": agent_config(client_tool("a", response_timeout_secs="soon"))},
            ["body", "conversation_config", "agent", "prompt", "tools", 0,
             "response_timeout_secs"],
            "integer",
        ),
    ],
)
async def test_bad_agent_bodies_are_refused_with_the_field(
    body: dict[str, Any], loc: list[Any], words: str
) -> None:
    async with (
        ElevenLabsStandIn(AgentOptions(api_key=KEY)) as standin,
        httpx.AsyncClient(base_url=standin.base_url) as http,
    ):
        answer = await http.post("/v1/convai/agents/create", json=body, headers={"xi-api-key": KEY})
    assert answer.status_code == 422
    matching = [e for e in answer.json()["detail"] if e["loc"] == loc]
    assert matching, answer.json()
    assert words in matching[0]["msg"]
    assert standin.agents == {}


async def test_rest_needs_the_api_key_and_answers_json_errors() -> None:
    async with (
        ElevenLabsStandIn(AgentOptions(api_key=KEY)) as standin,
        httpx.AsyncClient(base_url=standin.base_url) as http,
    ):
        missing = await http.get("/v1/convai/agents")
        wrong = await http.get("/v1/convai/agents", headers={"xi-api-key": "nope"})
        not_json = await http.post(
            "/v1/convai/agents/create", content=b"{", headers={"xi-api-key": KEY}
        )
        headers = {"xi-api-key": KEY}
        unknown = await http.patch("/v1/convai/agents/agent_x", json={}, headers=headers)
    assert (missing.status_code, missing.json()["detail"]["status"]) == (401, "needs_authorization")
    assert (wrong.status_code, wrong.json()["detail"]["status"]) == (401, "invalid_api_key")
    assert not_json.status_code == 422
    assert not_json.json()["detail"][0]["type"] == "json_invalid"
    assert (unknown.status_code, unknown.json()["detail"]["status"]) == (404, "agent_not_found")


async def test_secrets_are_stored_and_never_returned() -> None:
    async with ElevenLabsStandIn(AgentOptions(api_key=KEY)) as standin:
        secrets = AsyncElevenLabs(api_key=KEY, base_url=standin.base_url).conversational_ai.secrets
        created = await secrets.create(name="tool_secret", value="s3cr3t-value-1234")
        await secrets.update(created.secret_id, name="tool_secret", value="rotated-value-5678")
        listed = await secrets.list()
        async with httpx.AsyncClient(base_url=standin.base_url) as http:
            raw = await http.get("/v1/convai/secrets", headers={"xi-api-key": KEY})
    assert [s.name for s in listed.secrets] == ["tool_secret"]
    assert standin.workspace.secret_value(created.secret_id) == "rotated-value-5678"
    assert "value" not in raw.text and "rotated" not in raw.text


async def test_a_finished_conversation_reads_back_as_the_service_reports_it() -> None:
    script = Script(
        "en",
        "Hello {{debtor_first_name}}.",
        (
            Listen("Hi, it is me."),
            CallTool("verify_identity", {"last_digits": "1234"},
                     on_success="Verified: {{tool_result}}."),
            EndCall(goodbye="Goodbye.", via="system"),
        ),
        analysis=Analysis(
            data={"contact_result": "right_party", "willingness_to_pay": 4},
            summary="{{debtor_first_name}} was verified.",
        ),
    )
    options = AgentOptions(api_key=KEY, ping_interval_s=60, script=script, analysis_delay_s=None)
    async with ElevenLabsStandIn(options) as standin:
        sdk = AsyncElevenLabs(api_key=KEY, base_url=standin.base_url)
        async with peer(standin) as client:
            await client.send(
                {
                    "type": "conversation_initiation_client_data",
                    "dynamic_variables": {"debtor_first_name": "Ann", "call_sid": "CA123"},
                    "conversation_config_override": {"agent": {"language": "en"}},
                    "user_id": "acct-1",
                }
            )
            await client.wait_for("agent_response")
            record = await standin.wait_for_conversation()
            during = await sdk.conversational_ai.conversations.get(record.conversation_id)
            await client.send({"type": "user_message", "text": "Hi, it is me."})
            call = await client.wait_for("client_tool_call")
            await client.send(
                {"type": "client_tool_result", "is_error": False, "result": "all good",
                 "tool_call_id": call["client_tool_call"]["tool_call_id"]}
            )
            await client.closed()
        await record.wait_closed()
        processing = await sdk.conversational_ai.conversations.get(record.conversation_id)
        standin.release_analysis(record.conversation_id)
        async with httpx.AsyncClient(base_url=standin.base_url) as http:
            raw = (
                await http.get(
                    f"/v1/convai/conversations/{record.conversation_id}",
                    headers={"xi-api-key": KEY},
                )
            ).json()
            listed = (
                await http.get("/v1/convai/conversations", headers={"xi-api-key": KEY})
            ).json()

    assert during.status == "in-progress"
    assert processing.status == "processing" and processing.analysis is None
    done = GetConversationResponseModel.model_validate(raw)  # the SDK's own model, strictly
    assert done.status == "done"
    assert done.user_id == "acct-1"
    roles = [(t.role, t.message) for t in done.transcript]
    assert roles == [
        ("agent", "Hello Ann."),
        ("user", "Hi, it is me."),
        ("agent", None),
        ("agent", None),
        ("agent", "Verified: all good."),
        ("agent", "Goodbye."),
        ("agent", None),
        ("agent", None),
    ]
    tool_call = done.transcript[2].tool_calls[0]  # type: ignore[index]
    assert (tool_call.type, tool_call.tool_name, tool_call.params_as_json) == (
        "client", "verify_identity", '{"last_digits":"1234"}'
    )
    result = raw["transcript"][3]["tool_results"][0]
    assert (result["result_value"], result["is_error"]) == ("all good", False)
    assert raw["transcript"][7]["tool_results"][0]["result"]["result_type"] == "end_call_success"
    assert done.metadata.termination_reason == "end_call tool was called."
    assert done.metadata.main_language == "en"
    assert done.metadata.cost is not None and done.metadata.cost >= 1
    assert done.conversation_initiation_client_data is not None
    variables = done.conversation_initiation_client_data.dynamic_variables or {}
    assert variables["call_sid"] == "CA123"
    assert variables["system__conversation_id"] == record.conversation_id
    assert done.analysis is not None
    assert done.analysis.transcript_summary == "Ann was verified."
    assert done.analysis.call_successful == "success"
    collected = done.analysis.data_collection_results or {}
    assert {k: v.value for k, v in collected.items()} == {
        "contact_result": "right_party", "willingness_to_pay": 4
    }
    page = GetConversationsPageResponseModel.model_validate(listed)
    assert [c.conversation_id for c in page.conversations] == [record.conversation_id]
    assert page.conversations[0].status == "done"
