"""The agent definition parley syncs: what the SDK and the gateway rely on."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from elevenlabs.types import AgentPlatformSettingsRequestModel, ConversationalConfig
from pydantic import BaseModel

from gateway import agent_config
from gateway.agent_config import (
    CLIENT_ONLY_TOOLS,
    PROMPT_VARIABLES,
    TOOL_SECRET_HEADER,
    build_agent_definition,
)
from gateway.call_context import CallContext, OpeningMode, initiation_for
from gateway.standins.elevenlabs.agent_binding import override_violations, required_variables
from gateway.standins.elevenlabs.agent_validation import validate_agent_body
from gateway.standins.elevenlabs.script import references
from gateway.standins.elevenlabs.workspace import StoredAgent
from tests.gateway.test_agent_tool_schema import sample_registry

SECRET_REF = {"secret_id": "sec_1"}


def definitions() -> list[agent_config.AgentDefinition]:
    return [
        build_agent_definition(sample_registry()),
        build_agent_definition(
            sample_registry(), tool_mode="webhook", public_url="https://gw.example/",
            tool_secret=SECRET_REF,
        ),
    ]


def stored(definition: agent_config.AgentDefinition) -> StoredAgent:
    body = definition.request_body()
    return StoredAgent("agent_x", body["name"], body["conversation_config"],
                       body["platform_settings"], body["tags"], 0, 0)


def _extras(model: Any, path: str = "") -> list[str]:
    """Keys the SDK model does not know, anywhere inside it (typos, wrong nesting)."""
    found: list[str] = []
    if isinstance(model, BaseModel):
        found += [f"{path}.{key}" for key in (model.model_extra or {})]
        for name in type(model).model_fields:
            found += _extras(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, list):
        for index, item in enumerate(model):
            found += _extras(item, f"{path}[{index}]")
    elif isinstance(model, dict):
        for key, item in model.items():
            found += _extras(item, f"{path}.{key}")
    return found


@pytest.mark.parametrize("index", [0, 1], ids=["client", "webhook"])
def test_every_key_is_one_the_sdk_and_the_service_know(index: int) -> None:
    definition = definitions()[index]
    config = ConversationalConfig.model_validate(definition.conversation_config)
    settings = AgentPlatformSettingsRequestModel.model_validate(definition.platform_settings)
    assert _extras(config) == [] and _extras(settings) == []
    assert validate_agent_body(definition.request_body(), creating=True) == []


def test_the_prompt_uses_only_variables_with_placeholders() -> None:
    agent = stored(definitions()[0])
    assert required_variables(agent, agent.first_message or "") <= set(PROMPT_VARIABLES)
    assert {v for v in references(agent.prompt) if not v.startswith("system__")} == set(
        PROMPT_VARIABLES
    )


@pytest.mark.parametrize("mode", list(OpeningMode))
def test_the_overrides_the_gateway_sends_are_enabled(mode: OpeningMode) -> None:
    context = CallContext(
        call_sid="CA1", org_id="org", account_id="acc", direction="outbound",
        opening_mode=mode, language="pt-BR", voice_id="voice_pt",
    )
    init = orjson.loads(initiation_for(context))
    for definition in definitions():
        assert override_violations(stored(definition), init["conversation_config_override"]) == []


def test_webhook_tools_post_to_the_gateway_with_the_secret_and_the_call() -> None:
    client, webhook = definitions()
    assert {t["type"] for t in client.tools()} == {"client"}
    by_name = {t["name"]: t for t in webhook.tools()}
    assert {n for n, t in by_name.items() if t["type"] == "client"} == set(CLIENT_ONLY_TOOLS)
    tool = by_name["sample_tool"]
    schema = tool["api_schema"]
    assert schema["url"] == "https://gw.example/tools/sample_tool"
    assert schema["method"] == "POST"
    assert schema["request_headers"] == {TOOL_SECRET_HEADER: SECRET_REF}
    body = schema["request_body_schema"]["properties"]
    assert body["call_sid"] == {"type": "string", "dynamic_variable": "call_sid"}
    assert body["conversation_id"] == {
        "type": "string", "dynamic_variable": "system__conversation_id"
    }
    assert tool["response_timeout_secs"] >= 5
    client_params = {t["name"]: t for t in client.tools()}["sample_tool"]["parameters"]
    assert {k: v for k, v in body.items() if k not in ("call_sid", "conversation_id")} == (
        client_params["properties"]
    )
    placeholders = webhook.conversation_config["agent"]["dynamic_variables"]
    assert "call_sid" in placeholders["dynamic_variable_placeholders"]


def test_audio_auth_and_analysis_settings() -> None:
    definition = definitions()[0]
    config, settings = definition.conversation_config, definition.platform_settings
    assert config["asr"]["user_input_audio_format"] == "ulaw_8000"
    assert config["tts"]["agent_output_audio_format"] == "ulaw_8000"
    assert {"client_tool_call", "agent_tool_response"} <= set(
        config["conversation"]["client_events"]
    )
    assert settings["auth"] == {"enable_auth": True}
    assert set(settings["data_collection"]) == {
        "contact_result", "disposition", "sentiment", "willingness_to_pay", "cooperation"
    }
    assert settings["data_collection"]["willingness_to_pay"]["type"] == "integer"


def test_webhook_mode_needs_its_url_and_secret() -> None:
    with pytest.raises(ValueError, match="public URL"):
        build_agent_definition(sample_registry(), tool_mode="webhook", tool_secret=SECRET_REF)
