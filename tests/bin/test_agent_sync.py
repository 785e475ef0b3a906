"""``parley agent sync``: the real command against the ElevenLabs stand-in."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from elevenlabs import AsyncElevenLabs
from pydantic import BaseModel, ValidationError

from agent_tools.catalog import default_registry
from bin.agent_cmd import sync_agent
from bin.cli import main
from gateway.agent_config import (
    PROMPT_VARIABLES,
    TOOL_SECRET_HEADER,
    TOOL_SECRET_NAME,
    build_agent_definition,
)
from gateway.standins.elevenlabs import AgentOptions, CallTool, ElevenLabsStandIn, EndCall, Script
from tests.gateway.test_agent_tool_schema import sample_registry
from tests.gateway.tool_examples import invalid_example, valid_example
from tests.standins.el_peer import peer
from tests.standins.http_sink import HttpSink, Reply

KEY = "xi-sync-test"
PARLEY = str(Path(sys.executable).with_name("parley"))


async def parley(cwd: Path, /, *args: str, **env: str) -> tuple[int, str, str]:
    """Run the installed ``parley`` command with only the given PARLEY_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    clean.update({f"PARLEY_{k}": v for k, v in env.items()})
    proc = await asyncio.create_subprocess_exec(
        PARLEY,
        *args,
        cwd=cwd,
        env=clean,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def parley_here(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cwd: Path,
    /,
    *args: str,
    **env: str,
) -> tuple[int, str, str]:
    """The same command in this process (a worker thread: it runs its own event loop)."""
    for name in list(os.environ):
        if name.startswith("PARLEY_"):
            monkeypatch.delenv(name)
    for key, value in env.items():
        monkeypatch.setenv(f"PARLEY_{key}", value)
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


def check_against_models(tools: list[dict[str, Any]]) -> None:
    registry = default_registry()
    assert sorted(t["name"] for t in tools) == registry.names()
    for tool in tools:
        model: type[BaseModel] = registry.get(tool["name"]).params
        schema = tool.get("parameters") or tool["api_schema"]["request_body_schema"]
        jsonschema.validate(valid_example(model), schema)
        _, bad = invalid_example(model)
        with pytest.raises(ValidationError):
            model.model_validate(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


@pytest.mark.parametrize("mode", ["client", "webhook"])
async def test_dry_run_prints_tools_whose_schemas_validate_against_the_models(
    tmp_path: Path, mode: str
) -> None:
    code, out, err = await parley(
        tmp_path,
        "agent",
        "sync",
        "--dry-run",
        "--tool-mode",
        mode,
        PUBLIC_URL="https://gw.example",
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["request"]["method"] == "POST"
    assert plan["request"]["path"] == "/v1/convai/agents/create"
    check_against_models(plan["request"]["body"]["conversation_config"]["agent"]["prompt"]["tools"])
    assert ("secret" in plan) is (mode == "webhook")


async def test_sync_creates_then_updates_the_agent_with_the_sdk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with ElevenLabsStandIn(AgentOptions(api_key=KEY)) as standin:
        env = {"ELEVENLABS_API_KEY": KEY, "ELEVENLABS_API_URL": standin.base_url}
        code, out, err = await parley(tmp_path, "agent", "sync", **env)
        assert code == 0, err
        [agent_id] = standin.agents
        assert f"created agent {agent_id}" in out
        assert f"PARLEY_ELEVENLABS_AGENT_ID={agent_id}" in out
        here = (monkeypatch, capsys, tmp_path)
        _, planned_create, _ = await parley_here(*here, "agent", "sync", "--dry-run", **env)

        env["ELEVENLABS_AGENT_ID"] = agent_id
        code, out, err = await parley_here(*here, "agent", "sync", "--language", "en", **env)
        assert code == 0, err
        assert f"updated agent {agent_id}" in out
        _, planned_update, _ = await parley_here(
            *here, "agent", "sync", "--dry-run", "--language", "en", **env
        )
    agent = standin.agents[agent_id]
    (create_method, created), (update_method, patched) = agent.requests
    assert (create_method, update_method) == ("POST", "PATCH")
    # The dry run prints exactly the bodies the SDK sent.
    assert created == json.loads(planned_create)["request"]["body"]
    update_plan = json.loads(planned_update)["request"]
    assert update_plan["path"] == f"/v1/convai/agents/{agent_id}"
    assert patched == update_plan["body"]
    assert agent.language == "en" and agent.first_message is not None
    assert agent.first_message.startswith("Hello")
    assert agent.enable_auth and agent.output_format == "ulaw_8000"
    assert list(agent.tools()) == default_registry().names()


async def test_webhook_tools_reach_the_gateway_with_the_stored_secret(tmp_path: Path) -> None:
    secret_value = "parley-tool-secret-0123456789"
    model = sample_registry().get("sample_tool").params
    params = valid_example(model)
    script = Script(
        "en",
        "Hi.",
        (CallTool("sample_tool", params, on_success="Saved."), EndCall(via="system")),
    )
    async with HttpSink(lambda _: Reply(200, {"result": "saved"})) as gateway:
        standin = ElevenLabsStandIn(AgentOptions(api_key=KEY, ping_interval_s=60, script=script))
        async with standin:
            sdk = AsyncElevenLabs(api_key=KEY, base_url=standin.base_url)

            def definition(secret_id: str | None) -> Any:
                return build_agent_definition(
                    sample_registry(),
                    tool_mode="webhook",
                    public_url=gateway.url,
                    tool_secret={"secret_id": secret_id},
                )

            first = await sync_agent(sdk, definition, agent_id=None, tool_secret=secret_value)
            again = await sync_agent(
                sdk, definition, agent_id=first.agent_id, tool_secret=secret_value
            )
            async with peer(standin, url=await _signed_url(sdk, first.agent_id)) as client:
                await client.init(
                    dynamic_variables={
                        **dict.fromkeys(PROMPT_VARIABLES, "x"),
                        "call_sid": "CA55",
                    }
                )
                await client.closed()
            record = await standin.wait_for_conversation()
    assert (first.action, again.action) == ("created", "updated")
    assert first.secret_id == again.secret_id is not None
    [stored_secret] = standin.workspace.secrets.values()
    assert (stored_secret.name, stored_secret.value) == (TOOL_SECRET_NAME, secret_value)
    agent = standin.agents[first.agent_id]
    header = agent.tools()["sample_tool"]["api_schema"]["request_headers"][TOOL_SECRET_HEADER]
    assert header == {"secret_id": first.secret_id}
    assert secret_value not in json.dumps(agent.as_json())
    [request] = gateway.received
    assert request.path == "/tools/sample_tool"
    assert request.headers[TOOL_SECRET_HEADER.lower()] == secret_value
    body = request.json()
    assert body.pop("call_sid") == "CA55"
    assert body.pop("conversation_id") == record.conversation_id
    assert model.model_validate(body) == model.model_validate(params)
    # The stored agent's own first message opens the call, then the tool's line.
    greeting = "Hola, le llamamos de x. ¿Hablo con x?"
    assert [t.text for t in record.agent_turns] == [greeting, "Saved."]


async def _signed_url(sdk: AsyncElevenLabs, agent_id: str) -> str:
    signed = await sdk.conversational_ai.conversations.get_signed_url(agent_id=agent_id)
    return str(signed.signed_url)


async def test_settings_and_service_errors_are_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    here = (monkeypatch, capsys, tmp_path)
    code, _, err = await parley_here(*here, "agent", "sync")
    assert code == 2 and "PARLEY_ELEVENLABS_API_KEY: is required" in err
    code, _, err = await parley_here(
        *here, "agent", "sync", "--tool-mode", "webhook", ELEVENLABS_API_KEY=KEY
    )
    assert code == 2
    assert "PARLEY_PUBLIC_URL" in err and "PARLEY_TOOL_SECRET" in err
    code, _, err = await parley_here(*here, "agent", "sync", "--dry-run", TOOL_SECRET="short")
    assert code == 2 and "PARLEY_TOOL_SECRET" in err
    async with ElevenLabsStandIn(AgentOptions(api_key=KEY)) as standin:
        code, _, err = await parley_here(
            *here,
            "agent",
            "sync",
            ELEVENLABS_API_KEY=KEY,
            ELEVENLABS_API_URL=standin.base_url,
            ELEVENLABS_AGENT_ID="agent_gone",
        )
        assert code == 1
        assert "404" in err and "PARLEY_ELEVENLABS_AGENT_ID=agent_gone" in err
        code, _, err = await parley_here(
            *here,
            "agent",
            "sync",
            ELEVENLABS_API_KEY="wrong",
            ELEVENLABS_API_URL=standin.base_url,
        )
        assert code == 1 and "401" in err and "PARLEY_ELEVENLABS_API_KEY" in err
    code, _, err = await parley_here(
        *here, "agent", "sync", ELEVENLABS_API_KEY=KEY, ELEVENLABS_API_URL="http://127.0.0.1:9"
    )
    assert code == 1 and "cannot reach ElevenLabs" in err
