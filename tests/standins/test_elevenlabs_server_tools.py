"""Server (webhook) tools: the stand-in calls the tool's URL as ElevenLabs does."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from gateway.standins.elevenlabs import (
    AgentOptions,
    CallTool,
    ElevenLabsStandIn,
    EndCall,
    Listen,
    Say,
    Script,
)
from gateway.standins.elevenlabs.server_tools import WebhookConfigError, build_request
from tests.standins.el_peer import Peer, peer
from tests.standins.http_sink import HttpSink, Reply

KEY = "xi-tools-test"
SECRET = "tool-secret-0123456789"


def promise_tool(url: str, **schema: Any) -> dict[str, Any]:
    return {
        "type": "webhook",
        "name": "register_promise",
        "description": "Register a promise to pay.",
        "response_timeout_secs": 5,
        "api_schema": {
            "url": f"{url}/tools/register_promise",
            "method": "POST",
            "content_type": "application/json",
            "request_headers": {"X-Parley-Tool-Secret": {"secret_id": "sec_1"}, "X-Plain": "p"},
            "request_body_schema": {
                "type": "object",
                "properties": {
                    "amount": {"type": "number", "description": "Amount."},
                    "date": {"type": "string", "description": "Date."},
                    "call_sid": {"type": "string", "dynamic_variable": "call_sid"},
                    "conversation_id": {
                        "type": "string", "dynamic_variable": "system__conversation_id"
                    },
                    "source": {"type": "string", "constant_value": "voice"},
                },
                "required": ["amount", "date"],
            },
            **schema,
        },
    }


def script(*, end_on_error: bool = False) -> Script:
    return Script(
        "en",
        "Hello.",
        (
            Listen("I can pay."),
            CallTool(
                "register_promise",
                {"amount": 120.5, "date": "2030-01-04", "not_in_schema": "x"},
                on_success="Done: {{tool_result.message}} (id {{tool_result.promise.id}}).",
                on_error="Sorry, that failed: {{tool_result}}",
                end_on_error=end_on_error,
            ),
            EndCall(goodbye="Bye.", via="system"),
        ),
    )


async def talk(standin: ElevenLabsStandIn) -> Peer:
    async with peer(standin) as client:
        await client.init(dynamic_variables={"call_sid": "CA42"})
        await client.wait_for("agent_response")
        await client.send({"type": "user_message", "text": "I can pay."})
        await client.closed()
    return client


async def test_a_webhook_tool_is_called_over_http_and_its_answer_is_spoken() -> None:
    answer = {"message": "promise registered", "promise": {"id": "pr_7"}}
    async with HttpSink(lambda _: Reply(200, answer)) as sink:
        options = AgentOptions(
            ping_interval_s=60,
            script=script(),
            webhook_tools={"register_promise": promise_tool(sink.url)},
            secrets={"sec_1": SECRET},
        )
        async with ElevenLabsStandIn(options) as standin:
            client = await talk(standin)
            record = await standin.wait_for_conversation()
            await record.wait_closed()

    [request] = sink.received
    assert (request.method, request.path) == ("POST", "/tools/register_promise")
    assert request.headers["x-parley-tool-secret"] == SECRET
    assert request.headers["x-plain"] == "p"
    assert request.headers["content-type"].startswith("application/json")
    assert request.json() == {
        "amount": 120.5,
        "date": "2030-01-04",
        "call_sid": "CA42",
        "conversation_id": record.conversation_id,
        "source": "voice",
    }
    call = record.tool_calls[0]
    assert call.tool_type == "webhook" and call.is_error is False
    assert call.dropped_parameters == ["not_in_schema"]
    assert call.webhook is not None and call.webhook.status == 200
    # No client_tool_call went over the socket; the socket saw request and response.
    assert client.of("client_tool_call") == []
    [started] = client.of("agent_tool_request")
    responses = [e["agent_tool_response"] for e in client.of("agent_tool_response")]
    assert started["agent_tool_request"]["tool_type"] == "webhook"
    assert responses[0] == {
        "tool_name": "register_promise",
        "tool_call_id": call.tool_call_id,
        "tool_type": "webhook",
        "is_error": False,
        "is_called": True,
        "event_id": responses[0]["event_id"],
    }
    spoken = [t.text for t in record.agent_turns]
    assert "Done: promise registered (id pr_7)." in spoken


async def test_a_refusing_or_slow_webhook_is_a_tool_error() -> None:
    async with HttpSink(lambda _: Reply(403, {"detail": "bad secret"})) as sink:
        options = AgentOptions(
            ping_interval_s=60, script=script(end_on_error=True),
            webhook_tools={"register_promise": promise_tool(sink.url)}, secrets={"sec_1": "x"},
        )
        async with ElevenLabsStandIn(options) as standin:
            await talk(standin)
            refused = await standin.wait_for_conversation()
            await refused.wait_closed()

    async with HttpSink(lambda _: Reply(200, {}, delay_s=2.5)) as slow_sink:
        slow_tool = promise_tool(slow_sink.url)
        slow_tool["response_timeout_secs"] = 1  # below the service's minimum: options only
        options = AgentOptions(
            ping_interval_s=60, script=script(end_on_error=True),
            webhook_tools={"register_promise": slow_tool}, secrets={"sec_1": "x"},
        )
        async with ElevenLabsStandIn(options) as standin:
            await talk(standin)
            slow = await standin.wait_for_conversation()
            await slow.wait_closed()

    assert refused.tool_calls[0].is_error is True
    assert refused.tool_calls[0].webhook is not None
    assert refused.tool_calls[0].webhook.status == 403
    assert 'Sorry, that failed: {"detail": "bad secret"}' in [t.text for t in refused.agent_turns]
    assert slow.tool_calls[0].is_error is True and slow.tool_calls[0].timed_out
    assert slow.tool_calls[0].webhook is not None
    assert slow.tool_calls[0].webhook.error == "timeout"


async def test_an_unknown_secret_is_a_configuration_error_and_nothing_is_sent() -> None:
    async with HttpSink() as sink:
        options = AgentOptions(
            ping_interval_s=60, script=script(end_on_error=True),
            webhook_tools={"register_promise": promise_tool(sink.url)},
        )
        async with ElevenLabsStandIn(options) as standin:
            await talk(standin)
            record = await standin.wait_for_conversation()
            await record.wait_closed()
    assert sink.received == []
    assert record.tool_calls[0].is_error is True
    assert "unknown secret 'sec_1'" in str(record.tool_calls[0].result)


def test_path_query_and_form_bodies_are_built_from_their_schemas() -> None:
    tool = {
        "type": "webhook",
        "name": "t",
        "api_schema": {
            "url": "https://example.test/accounts/{account}/notes",
            "method": "PUT",
            "content_type": "application/x-www-form-urlencoded",
            "path_params_schema": {"account": {"type": "string", "dynamic_variable": "account_id"}},
            "query_params_schema": {
                "properties": {"urgent": {"type": "boolean", "description": "Urgent?"}}
            },
            "request_body_schema": {
                "type": "object",
                "properties": {
                    "note": {"type": "string", "description": "The note."},
                    "skipped": {"type": "string", "is_omitted": True},
                },
            },
            "request_headers": {"X-Call": "{{call_sid}}", "X-Env": {"env_var_label": "region"}},
        },
    }
    request = build_request(
        tool,
        {"note": "call back", "urgent": True, "skipped": "no"},
        {"account_id": "acc 9", "call_sid": "CA1"},
        lambda _: None,
        {"region": "eu"},
    )
    assert request.url == "https://example.test/accounts/acc 9/notes"
    assert request.query == {"urgent": "true"}
    assert request.body == {"note": "call back"} and request.form
    assert request.headers == {"X-Call": "CA1", "X-Env": "eu"}
    assert request.dropped == ["skipped"]
    missing_env = {**tool, "api_schema": {**tool["api_schema"],  # type: ignore[dict-item]
                                          "request_headers": {"X": {"env_var_label": "nope"}}}}
    with pytest.raises(WebhookConfigError, match="unknown environment variable 'nope'"):
        build_request(missing_env, {}, {"account_id": "a"}, lambda _: None, {})


async def test_a_stored_agents_tools_decide_how_each_call_runs() -> None:
    """Tools come from the agent created over REST; one it lacks is an error."""
    async with HttpSink(lambda _: Reply(200, {"message": "ok", "promise": {"id": "p"}})) as sink:
        webhook = promise_tool(sink.url)
        webhook["api_schema"]["request_headers"] = {"X-Parley-Tool-Secret": "plain-secret"}
        body = {
            "conversation_config": {
                "agent": {"first_message": "Hi.", "prompt": {"prompt": "p", "tools": [webhook]}},
            },
        }
        steps = Script(
            "en", "Hi.",
            (
                Say("Checking."),
                CallTool("lookup_account", {}, on_error="No such tool."),
                CallTool("register_promise", {"amount": 1, "date": "2030-01-01"},
                         on_success="{{tool_result.message}}"),
                EndCall(via="system"),
            ),
        )
        options = AgentOptions(api_key=KEY, ping_interval_s=60, script=steps)
        async with ElevenLabsStandIn(options) as standin:
            async with httpx.AsyncClient(base_url=standin.base_url) as http:
                created = await http.post(
                    "/v1/convai/agents/create", json=body, headers={"xi-api-key": KEY}
                )
            agent_id = created.json()["agent_id"]
            async with peer(standin, f"agent_id={agent_id}") as client:
                await client.init(dynamic_variables={"call_sid": "CA9"})
                await client.closed()
            record = await standin.wait_for_conversation()
            await record.wait_closed()
    assert [(c.tool_name, c.tool_type, c.is_error) for c in record.tool_calls] == [
        ("lookup_account", "undefined", True),
        ("register_promise", "webhook", False),
    ]
    assert sink.received[0].headers["x-parley-tool-secret"] == "plain-secret"
    assert [t.text for t in record.agent_turns] == ["Hi.", "Checking.", "No such tool.", "ok"]
    assert orjson.loads(sink.received[0].body)["call_sid"] == "CA9"


async def test_a_client_tool_result_can_be_spoken_too() -> None:
    steps = Script(
        "en", "", (CallTool("lookup_account", {}, on_success="You owe {{tool_result.balance}}."),
                   EndCall(via="system")),
    )
    async with ElevenLabsStandIn(AgentOptions(ping_interval_s=60, script=steps)) as standin:
        async with peer(standin) as client:
            await client.init()
            call = await client.wait_for("client_tool_call")
            await client.send(
                {"type": "client_tool_result", "is_error": False,
                 "tool_call_id": call["client_tool_call"]["tool_call_id"],
                 "result": '{"balance": "120.50 EUR"}'}
            )
            await client.closed()
        record = await standin.wait_for_conversation()
    assert [t.text for t in record.agent_turns] == ["You owe 120.50 EUR."]
