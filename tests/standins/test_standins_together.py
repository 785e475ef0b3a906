"""Both stand-ins through a minimal pass-through bridge: they agree with each other.

The bridge here is deliberately naive (it is not the gateway): Twilio media goes to
the agent as ``user_audio_chunk``, agent audio comes back as ``media`` + ``mark``,
``interruption`` becomes ``clear``, client tools are answered, and ``end_call`` hangs
up once the last mark has been echoed. It proves the two peers can hold a whole
call, and that frame tags survive pass-through for the benchmark.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from twilio.twiml.voice_response import VoiceResponse
from websockets.asyncio.client import connect

from gateway.standins.elevenlabs import (
    AgentOptions,
    CallTool,
    ElevenLabsStandIn,
    EndCall,
    Listen,
    Script,
)
from gateway.standins.twilio_call import Callee
from gateway.standins.twilio_caller import CallerScript
from gateway.standins.twilio_standin import TwilioStandIn
from tests.standins.fake_gateway import PUBLIC, serve

SID, TOKEN = "AC" + "b" * 32, "together-token"
SCRIPT = Script(
    "en",
    "Hello, this is Alex.",
    (
        Listen("Yes, it's Ann."),
        CallTool("verify_identity", {"last_digits": "1234"}, on_success="Thank you."),
        Listen("Sure."),
        EndCall(goodbye="Goodbye!", via="client"),
    ),
)


def bridge_app(agent: ElevenLabsStandIn) -> Starlette:
    async def voice(request: Request) -> Response:
        response = VoiceResponse()
        response.connect().stream(url="wss://public.example/twilio/media")
        response.hangup()
        return Response(str(response), media_type="application/xml")

    async def media(twilio: WebSocket) -> None:
        await twilio.accept()
        await twilio.receive_text()  # connected
        stream_sid = orjson.loads(await twilio.receive_text())["streamSid"]
        marks = itertools.count()
        pending: set[str] = set()
        async with connect(f"{agent.ws_url}?agent_id=agent_1") as el:
            await el.send(orjson.dumps({"type": "conversation_initiation_client_data"}).decode())

            async def to_twilio(event: dict[str, Any]) -> None:
                await twilio.send_text(orjson.dumps({"streamSid": stream_sid, **event}).decode())

            async def from_agent() -> None:
                async for raw in el:
                    event = orjson.loads(raw)
                    kind = event["type"]
                    if kind == "audio":
                        payload = event["audio_event"]["audio_base_64"]
                        await to_twilio({"event": "media", "media": {"payload": payload}})
                        name = f"m{next(marks)}"
                        pending.add(name)
                        await to_twilio({"event": "mark", "mark": {"name": name}})
                    elif kind == "interruption":
                        await to_twilio({"event": "clear"})
                    elif kind == "ping":
                        pong = {"type": "pong", "event_id": event["ping_event"]["event_id"]}
                        await el.send(orjson.dumps(pong).decode())
                    elif kind == "client_tool_call":
                        call = event["client_tool_call"]
                        result = {
                            "type": "client_tool_result",
                            "tool_call_id": call["tool_call_id"],
                            "result": "ok",
                            "is_error": False,
                        }
                        await el.send(orjson.dumps(result).decode())
                        if call["tool_name"] == "end_call":
                            while pending:  # noqa: ASYNC110 - let the goodbye play out
                                await asyncio.sleep(0.02)
                            await twilio.close()
                            return

            async def from_twilio() -> None:
                try:
                    while True:
                        message = orjson.loads(await twilio.receive_text())
                        if message["event"] == "media":
                            chunk = {"user_audio_chunk": message["media"]["payload"]}
                            await el.send(orjson.dumps(chunk).decode())
                        elif message["event"] == "mark":
                            pending.discard(message["mark"]["name"])
                        elif message["event"] == "stop":
                            return
                except (WebSocketDisconnect, RuntimeError):
                    return

            agent_task = asyncio.create_task(from_agent())
            twilio_task = asyncio.create_task(from_twilio())
            await asyncio.wait({agent_task, twilio_task}, return_when=asyncio.FIRST_COMPLETED)
            for task in (agent_task, twilio_task):
                task.cancel()
            await asyncio.gather(agent_task, twilio_task, return_exceptions=True)

    return Starlette(
        routes=[
            Route("/twilio/voice", voice, methods=["POST"]),
            WebSocketRoute("/twilio/media", media),
        ]
    )


async def test_a_whole_call_across_both_stand_ins() -> None:
    options = AgentOptions(script=SCRIPT, ping_interval_s=0.5, probe_frames=True)
    async with ElevenLabsStandIn(options) as agent, serve(bridge_app(agent)) as url:
        caller = CallerScript.of(SCRIPT.listen_transcripts(), reply_after_silence_ms=400)
        callee = Callee(caller=caller, probe_frames=True)
        async with TwilioStandIn(SID, TOKEN, url, public_url=PUBLIC, default_callee=callee) as tw:
            call = await tw.simulate_inbound_call(
                "+34600000009", "+15550000009", f"{PUBLIC}/twilio/voice"
            )
            await tw.wait_for_call_end(call.sid, 20)
        conversation = await agent.wait_for_conversation()
        await conversation.wait_closed()

    stream = call.streams[0]
    assert call.end_reason == "hangup-verb" and stream.end_reason == "server-closed"
    assert conversation.user_transcripts == ["Yes, it's Ann.", "Sure."]
    assert [t.text for t in conversation.agent_turns] == [
        "Hello, this is Alex.",
        "Thank you.",
        "Goodbye!",
    ]
    assert [c.tool_name for c in conversation.tool_results] == ["verify_identity", "end_call"]
    assert not conversation.interruptions and not stream.clears
    sent = sum(turn.audio_bytes_sent for turn in conversation.agent_turns)
    assert len(stream.played) == sent, "every agent byte was played, the goodbye included"
    assert len(stream.marks_echoed) == len(stream.marks_received)

    # Frame tags: caller chunk numbers arrive in order at the agent, in pass-through.
    tags = [tag for _, tag in conversation.frame_probe]
    assert tags == list(range(1, len(tags) + 1))
    assert stream.frames_sent - 3 <= len(tags) <= stream.frames_sent
