"""The ElevenLabs stand-in's wire protocol, seen by a bare websocket client."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from gateway.standins.elevenlabs import (
    CallTool,
    EndCall,
    Listen,
    Say,
    Script,
)
from gateway.standins.speech import synthesize
from tests.standins.el_peer import peer, running


async def test_metadata_and_pcm_audio_chunks() -> None:
    script = Script("en", "One two three four five six seven eight nine ten.", ())
    async with running(audio_format="pcm_16000", script=script, chunk_ms=(100, 400)) as agent:
        async with peer(agent) as client:
            await client.init()
            meta = await client.wait_for("conversation_initiation_metadata")
            response = await client.wait_for("agent_response")
            await asyncio.sleep(0.5)
        record = await agent.wait_for_conversation()
        await record.wait_closed()
    assert meta["conversation_initiation_metadata_event"] == {
        "conversation_id": record.conversation_id,
        "agent_output_audio_format": "pcm_16000",
        "user_input_audio_format": "pcm_16000",
    }
    event_id = response["agent_response_event"]["event_id"]
    chunks = [base64.b64decode(a["audio_event"]["audio_base_64"]) for a in client.of("audio")]
    assert {a["audio_event"]["event_id"] for a in client.of("audio")} == {event_id}
    durations = [len(c) / 32000 for c in chunks]
    assert all(0.099 <= d <= 0.401 for d in durations[:-1])
    pcm = np.frombuffer(b"".join(chunks), dtype="<i2")
    expected = synthesize(script.first_message, sample_rate=16000)
    assert np.array_equal(pcm, expected)
    assert (record.closed_by, record.close_code) == ("client", 1000)


@pytest.mark.parametrize(
    ("message", "error_type"),
    [
        ({"type": "dance"}, "invalid_message"),
        ({"type": "pong"}, "missing_fields"),
        ({"user_audio_chunk": "%%%"}, "invalid_message"),
        ("not json", "invalid_message"),
    ],
)
async def test_bad_client_messages_get_an_error_and_1008(message: Any, error_type: str) -> None:
    async with running(script=Script("en", "", ())) as agent, peer(agent) as client:
        await client.init()
        await client.wait_for("conversation_initiation_metadata")
        if isinstance(message, str):
            await client.ws.send(message)
        else:
            await client.send(message)
        error = await client.wait_for("error")
        await client.closed()
        record = await agent.wait_for_conversation()
        await record.wait_closed()
    assert error["error_event"]["error_type"] == error_type
    assert error["error_event"]["code"] == 1008
    assert client.ws.close_code == 1008
    assert (record.close_code, record.closed_by) == (1008, "server")


async def test_missing_dynamic_variable_closes_with_1008() -> None:
    async with running() as agent, peer(agent) as client:
        await client.init(first_message="Hello {{nickname}}")
        error = await client.wait_for("error")
        await client.closed()
    assert error["error_event"]["error_type"] == "missing_dynamic_variable"
    assert "nickname" in error["error_event"]["message"]
    assert client.ws.close_code == 1008
    assert not client.of("conversation_initiation_metadata")


async def test_empty_first_message_waits_for_the_caller_then_follows_the_script() -> None:
    script = Script(
        "en",
        "This greeting is replaced.",
        (Listen("Hello?"), Say("Hi, this is Alex."), Listen("Bye."), EndCall(via="system")),
    )
    async with running(script=script) as agent, peer(agent) as client:
        await client.init(first_message="")
        await client.wait_for("conversation_initiation_metadata")
        await asyncio.sleep(0.3)
        assert not client.of("agent_response")
        await client.say("Hello?")
        transcript = await client.wait_for("user_transcript")
        response = await client.wait_for("agent_response")
        tentative = client.of("tentative_user_transcript")
        await client.say("Bye.")
        tool = await client.wait_for("agent_tool_response")
        await client.closed()
    assert transcript["user_transcription_event"]["user_transcript"] == "Hello?"
    assert response["agent_response_event"]["agent_response"] == "Hi, this is Alex."
    assert (
        tentative[0]["tentative_user_transcription_event"]["event_id"]
        == (transcript["user_transcription_event"]["event_id"])
    )
    assert (
        response["agent_response_event"]["event_id"]
        > (transcript["user_transcription_event"]["event_id"])
    )
    assert tool["agent_tool_response"]["tool_name"] == "end_call"
    assert tool["agent_tool_response"]["tool_type"] == "system"
    assert client.ws.close_code == 1000


async def test_vad_scores_when_enabled() -> None:
    async with (
        running(script=Script("en", "", ()), send_vad_scores=True) as agent,
        peer(agent) as client,
    ):
        await client.init()
        await client.say("Hello there.", silence_s=0.2)
        await client.wait_for("vad_score", 3)
    scores = [e["vad_score_event"]["vad_score"] for e in client.of("vad_score")]
    assert all(0.0 <= s <= 1.0 for s in scores) and max(scores) > 0.5


async def test_language_override_picks_the_spanish_script() -> None:
    async with running() as agent, peer(agent) as client:
        await client.init(language="es", dynamic_variables={"debtor_name": "Lucía"})
        response = await client.wait_for("agent_response")
        record = await agent.wait_for_conversation()
    assert response["agent_response_event"]["agent_response"].startswith("Hola Lucía")
    assert record.script_language == "es" and record.language == "es"


async def test_tool_timeout_and_client_end_call() -> None:
    script = Script(
        "en",
        "",
        (
            Listen("Hi."),
            CallTool(
                "register_promise", {"amount": "{{balance}}"}, on_error="Sorry.", timeout_s=0.3
            ),
            EndCall(via="client", reason="done"),
        ),
        placeholders={"balance": 125.5},
    )
    async with running(script=script) as agent, peer(agent) as client:
        await client.init(first_message="")
        await client.say("Hi.")
        first_call = await client.wait_for("client_tool_call")
        sorry = await client.wait_for("agent_response")
        end = await client.wait_for("client_tool_call", 2)
        await client.send(
            {
                "type": "client_tool_result",
                "tool_call_id": end["client_tool_call"]["tool_call_id"],
                "result": "hanging up",
                "is_error": False,
            }
        )
        tool_response = await client.wait_for("agent_tool_response")
        await client.send({"type": "contextual_update", "text": "caller hung up"})
        await client.send({"type": "user_activity"})
        await asyncio.sleep(0.05)
        await client.ws.close()
        record = await agent.wait_for_conversation()
        await record.wait_closed()
    assert first_call["client_tool_call"]["parameters"] == {"amount": 125.5}
    assert sorry["agent_response_event"]["agent_response"] == "Sorry."
    assert end["client_tool_call"]["tool_name"] == "end_call"
    assert end["client_tool_call"]["parameters"] == {"reason": "done"}
    assert tool_response["agent_tool_response"]["tool_type"] == "client"
    assert record.tool_calls[0].timed_out and record.tool_calls[1].result == "hanging up"
    assert record.contextual_updates == ["caller hung up"]
    assert record.message_counts["user_activity"] == 1
    assert (record.closed_by, record.close_code) == ("client", 1000)


async def test_typed_user_message_answers_a_listen_step() -> None:
    script = Script("en", "Hi.", (Listen("ignored"), Say("Got it.")))
    async with running(script=script) as agent, peer(agent) as client:
        await client.init()
        await client.wait_for("agent_response")
        await client.send({"type": "user_message", "text": "I typed this"})
        response = await client.wait_for("agent_response", 2)
        record = await agent.wait_for_conversation()
    assert response["agent_response_event"]["agent_response"] == "Got it."
    assert record.user_messages == ["I typed this"]
    assert not client.of("user_transcript")


async def test_first_audio_delay_and_pings() -> None:
    async with (
        running(script=Script("en", "Hi.", ()), first_audio_delay_ms=300) as agent,
        peer(agent) as client,
    ):
        agent.options.ping_interval_s = 0.1  # options apply to the next conversation
        async with peer(agent) as second:
            start = time.monotonic()
            await second.init()
            await second.wait_for("audio")
            first_audio = second.events[-1][0] - start
            ping = await second.wait_for("ping", 2)
            await second.send({"type": "pong", "event_id": ping["ping_event"]["event_id"]})
            await second.wait_for("ping", 3)
        await client.init()
        record = await agent.wait_for_conversation(1)
    assert first_audio >= 0.3
    assert ping["ping_event"]["event_id"] == 2
    assert [p.event_id for p in record.pongs] == [2]
    assert record.pongs[0].rtt_ms is not None


async def test_drop_after_closes_without_a_close_frame() -> None:
    async with running(script=Script("en", "", ()), drop_after_s=0.2) as agent:
        async with peer(agent) as client:
            await client.init()
            await client.closed()
        record = await agent.wait_for_conversation()
        await record.wait_closed()
    assert client.close_error is not None and client.close_error.rcvd is None
    assert record.closed_by == "dropped" and record.close_code == 1006


async def test_signed_url_rules() -> None:
    async with running(require_auth=True, api_key="k", signed_url_ttl_s=0.3) as agent:
        async with httpx.AsyncClient(base_url=agent.base_url) as http:
            path = "/v1/convai/conversation/get-signed-url?agent_id=agent_1"
            assert (await http.get(path)).status_code == 401
            bad = await http.get(path, headers={"xi-api-key": "x"})
            assert bad.status_code == 401
            assert bad.json()["detail"]["status"] == "invalid_api_key"
            assert (await http.get("/v1/nothing")).status_code == 404
            first = (await http.get(path, headers={"xi-api-key": "k"})).json()["signed_url"]
            stale = (await http.get(path, headers={"xi-api-key": "k"})).json()["signed_url"]

        async with connect(first) as ws:
            await ws.send(orjson.dumps({"type": "conversation_initiation_client_data"}).decode())
            assert orjson.loads(await ws.recv())["type"] == "conversation_initiation_metadata"

        for url in (first, stale.replace("agent_1", "agent_2"), f"{agent.ws_url}?agent_id=agent_1"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url):
                    pass
            assert refused.value.response.status_code == 403
        await asyncio.sleep(0.35)
        with pytest.raises(InvalidStatus):
            async with connect(stale):
                pass
    reasons = [r.reason for r in agent.refusals if r.status == 403]
    assert reasons == [
        "unknown or already used conversation_signature",
        "conversation_signature was issued for another agent",
        "missing conversation_signature",
        "unknown or already used conversation_signature",
    ]
