"""Calls when things go wrong: a dropped agent socket, a stream that never comes, an
answering machine's cousins (busy, no answer), and peers that send garbage.

The gateway under test runs under uvicorn between the two stand-ins (or, where a
peer must misbehave in ways the stand-in will not, a tiny raw websocket agent).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from gateway.standins.elevenlabs import EndCall, Listen
from gateway.standins.elevenlabs import wire as el_wire
from gateway.standins.twilio_media import MediaStreamClient
from gateway.standins.waiting import poll_until
from media import mulaw
from tests.integration.e2e import (
    DEBTOR,
    E2E,
    agent_options,
    caller,
    e2e,
    script,
)
from tests.integration.harness import ACCOUNT_SID, call_sid
from tests.system_tools import require_tool

GREETING = "Hello, this is Acme. Am I speaking with Ann?"


@pytest.fixture(autouse=True)
def _espeak() -> None:
    require_tool("espeak-ng")


# ------------------------------------------------------------------ agent socket loss


async def test_dropped_agent_socket_reconnects_with_the_conversation_so_far(
    tmp_path: Path,
) -> None:
    agent = script(Listen("Yes."), EndCall(goodbye="Goodbye.", via="client"))
    options = agent_options(drop_after_s=1.0)
    async with e2e(tmp_path, options=options, agent_script=agent) as rig:
        rig.callee(DEBTOR, caller("Yes."))
        placed = await rig.place_call()
        sid = placed["call_sid"]
        first = await rig.agent.wait_for_conversation(0)
        # Only the first conversation drops; options are read per conversation.
        rig.agent.options = dataclasses.replace(rig.agent.options, drop_after_s=None)
        twilio_call = await rig.call_end(sid)
        record = await rig.ended_call(placed["call_ref"])
        assert len(rig.agent.conversations) == 2
        second = await rig.agent.wait_for_conversation(1)
        await second.wait_closed(2.0)

        assert first.closed_by == "dropped"
        assert second.init is not None
        assert second.init["dynamic_variables"]["call_sid"] == sid
        assert second.init["conversation_config_override"]["agent"]["first_message"] == ""
        kinds = [kind for _, kind, _ in second.messages]
        assert kinds[:2] == ["conversation_initiation_client_data", "contextual_update"]
        context = second.contextual_updates[0]
        assert f"agent: {GREETING}" in context
        assert "Do not greet the caller again" in context
        # The call went on: the new conversation heard the caller and ended the call.
        assert second.user_transcripts == ["Yes."]
        assert record["outcome"] == "completed"
        assert record["conversation_id"] == second.conversation_id
        assert [line["text"] for line in record["transcript"]] == [GREETING, "Yes.", "Goodbye."]
        stream = twilio_call.stream
        assert stream is not None
        spoken = sum(t.duration_s for t in first.agent_turns + second.agent_turns)
        assert stream.played_s >= spoken - 0.001, "audio was lost across the reconnect"
        assert twilio_call.says == []


@pytest.mark.parametrize("when", ["reconnect", "start"])
async def test_agent_that_cannot_be_reached_gets_an_apology_and_a_hang_up(
    tmp_path: Path, when: str
) -> None:
    """The reconnect (or the very first connection) is refused: the caller hears the
    organization's apology through Twilio (``calls.update`` with ``<Say>``)."""
    options = agent_options(drop_after_s=1.0 if when == "reconnect" else None)
    async with e2e(tmp_path, options=options) as rig:
        rig.callee(DEBTOR, caller())
        if when == "start":
            rig.agent.options = dataclasses.replace(rig.agent.options, api_key="xi-revoked")
        placed = await rig.place_call()
        sid = placed["call_sid"]
        if when == "reconnect":
            await rig.agent.wait_for_conversation(0)
            # The key is revoked: the signed-URL request of the reconnect is refused.
            rig.agent.options = dataclasses.replace(
                rig.agent.options, drop_after_s=None, api_key="xi-revoked"
            )
        twilio_call = await rig.call_end(sid)
        record = await rig.ended_call(placed["call_ref"])

        apology = rig.gw.settings.apology_message
        assert twilio_call.says == [apology]
        assert any("<Say" in update.get("Twiml", "") for update in twilio_call.updates)
        assert twilio_call.end_reason == "hangup-verb"
        assert record["outcome"] == "agent_failed"
        assert len(rig.agent.conversations) == (1 if when == "reconnect" else 0)
        refused = [r for r in rig.agent.refusals if r.status == 401]
        assert refused, rig.agent.refusals
        stream = twilio_call.stream
        assert stream is not None and stream.stop_sent  # Twilio ended it for the <Say>


# ----------------------------------------------------------------------------- prewarm


@pytest.mark.parametrize("prewarm", [True, False])
async def test_prewarmed_agent_speaks_as_soon_as_the_stream_starts(
    tmp_path: Path, prewarm: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real Twilio takes a while to open the media socket after fetching the TwiML
    # (the stand-in does it at once on loopback); that gap is what prewarm uses.
    connect_stream = MediaStreamClient.run

    async def slow_to_connect(self: MediaStreamClient) -> str:
        await asyncio.sleep(0.3)
        return await connect_stream(self)

    monkeypatch.setattr(MediaStreamClient, "run", slow_to_connect)
    async with e2e(tmp_path, prewarm=prewarm) as rig:
        rig.callee(DEBTOR, caller())
        placed = await rig.place_call()
        sid = placed["call_sid"]
        stream = await rig.stream_of(sid)
        await poll_until(lambda: stream.first_media_at is not None, 5)
        rig.twilio.hangup(sid)
        conv = await rig.conversation_of(sid)
        await rig.call_end(sid)
        assert stream.connected_at is not None and stream.started_at is not None
        if prewarm:
            # Opened at the TwiML request, before Twilio even connected the stream...
            assert conv.opened_at < stream.connected_at
            assert conv.init_at is not None and conv.init_at < stream.connected_at
            # ... so the greeting reaches the caller right after ``start``.
            delay = stream.first_media_after_start_s
            assert delay is not None and delay < 0.5, delay
        else:
            assert conv.opened_at > stream.started_at


async def test_prewarmed_session_expires_when_the_stream_never_comes(tmp_path: Path) -> None:
    async with e2e(tmp_path, prewarm_timeout_s=0.5) as rig:
        asked_at = time.monotonic()
        await rig.gw.inbound_call(call_sid(1))  # TwiML fetched; Twilio never connects
        conv = await rig.conversation_of(call_sid(1))
        await conv.wait_closed(3.0)
        assert conv.closed_by == "client"
        assert conv.closed_at is not None
        assert 0.45 <= conv.closed_at - asked_at <= 1.5
        assert len(rig.gw.services.prewarm) == 0
        assert rig.gw.services.prewarm.expired == 1


@pytest.mark.parametrize("final", ["busy", "no-answer"])
async def test_call_ending_before_its_stream_discards_the_prewarmed_session(
    tmp_path: Path, final: str
) -> None:
    async with e2e(tmp_path) as rig:  # the default prewarm timeout (30 s) is far off
        await rig.gw.inbound_call(call_sid(2))
        conv = await rig.conversation_of(call_sid(2))
        ended_at = time.monotonic()
        response = await rig.gw.post_twilio(
            "/twilio/status",
            {"CallSid": call_sid(2), "AccountSid": ACCOUNT_SID, "CallStatus": final},
        )
        assert response.status_code == 204
        await conv.wait_closed(2.0)
        assert conv.closed_by == "client"
        assert conv.closed_at is not None and conv.closed_at - ended_at < 1.0
        assert len(rig.gw.services.prewarm) == 0
        record = await rig.gw.services.calls.by_sid(call_sid(2))
        assert record is not None and record.outcome == final


async def test_busy_outbound_call_never_opens_an_agent(tmp_path: Path) -> None:
    async with e2e(tmp_path) as rig:
        rig.callee(DEBTOR, caller(), answer="busy")
        placed = await rig.place_call()
        twilio_call = await rig.call_end(placed["call_sid"])
        record = await rig.ended_call(placed["call_ref"])
        assert twilio_call.status == "busy"
        assert record["outcome"] == "busy"
        assert rig.agent.conversations == {}
        assert len(rig.gw.services.prewarm) == 0


# ------------------------------------------------------------- bad input from Twilio


def _start(sid: str, stream_sid: str, params: dict[str, str]) -> str:
    return orjson.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": stream_sid,
            "start": {
                "streamSid": stream_sid,
                "accountSid": ACCOUNT_SID,
                "callSid": sid,
                "tracks": ["inbound"],
                "customParameters": params,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    ).decode()


def _media(stream_sid: str, payload: str, chunk: int = 1) -> str:
    return orjson.dumps(
        {
            "event": "media",
            "sequenceNumber": str(chunk + 1),
            "streamSid": stream_sid,
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(chunk * 20),
                "payload": payload,
            },
        }
    ).decode()


SILENCE = base64.b64encode(bytes([mulaw.SILENCE_BYTE]) * 160).decode()


async def _protocol_errors(rig: E2E, peer: str) -> float:
    text = (await rig.gw.http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("parley_protocol_errors_total") and f'peer="{peer}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_bad_twilio_frames_never_touch_another_call(tmp_path: Path) -> None:
    async with e2e(tmp_path) as rig:
        rig.callee(DEBTOR, caller("Yes."))
        placed = await rig.place_call()
        good_sid = placed["call_sid"]
        good_stream = await rig.stream_of(good_sid)
        await poll_until(lambda: good_stream.first_media_at is not None, 5)

        # A second call, signed and with a valid token, whose socket misbehaves.
        bad_sid, bad_stream_sid = call_sid(9), "MZ" + "9" * 32
        twiml = await rig.gw.inbound_call(bad_sid)
        headers = {"X-Twilio-Signature": rig.gw.sign(twiml.url, {})}
        async with connect(twiml.url, additional_headers=headers, max_size=2**20) as bad:
            await bad.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
            await bad.send(_start(bad_sid, bad_stream_sid, twiml.parameters))
            await poll_until(lambda: bad_sid in rig.gw.services.runners, 5)
            garbage: list[str | bytes] = [
                "{not json",
                '["an", "array"]',
                '{"event": "bogus", "streamSid": "' + bad_stream_sid + '"}',
                '{"event": "media"}',
                b"\x00\x01binary",
                _media(bad_stream_sid, "A" * (70 * 1024)),  # > 64 KiB
                _media("MZ" + "0" * 32, SILENCE),  # someone else's stream
                _media(bad_stream_sid, "not base64!"),
                '{"event":"dtmf","streamSid":"MZ' + "0" * 32 + '","dtmf":{"digit":"1"}}',
                '{"event":"stop","streamSid":"MZ' + "0" * 32 + '","stop":{}}',
                '{"event":"mark","streamSid":"' + bad_stream_sid + '","mark":{"name":"x:1"}}',
            ]
            for frame in garbage:
                await bad.send(frame)
            for chunk in range(2, 40):
                await bad.send(_media(bad_stream_sid, SILENCE, chunk))
            # The misbehaving call is still up: its agent greets it on its own stream.
            got_media = False
            async with asyncio.timeout(5):
                while not got_media:
                    msg = orjson.loads(await bad.recv())
                    got_media = msg["event"] == "media"
                    assert msg["streamSid"] == bad_stream_sid
            # ... and it still works: a key pressed on it reaches its own agent.
            bad_record = await rig.gw.services.calls.by_sid(bad_sid)
            assert bad_record is not None and bad_record.ended_at is None
            await bad.send(
                '{"event":"dtmf","streamSid":"' + bad_stream_sid + '","dtmf":{"digit":"4"}}'
            )
            bad_conv = await rig.conversation_of(bad_sid)
            await bad_conv.wait_until(lambda c: len(c.contextual_updates) == 1, 5)
            assert "key 4" in bad_conv.contextual_updates[0]
            assert (await rig.gw.http.get("/health")).status_code == 200

            # Media before ``start`` on yet another socket: refused, alone.
            async with connect(twiml.url, additional_headers=headers) as early:
                await early.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
                await early.send(_media(bad_stream_sid, SILENCE))
                with pytest.raises(ConnectionClosed):
                    await early.recv()
                assert early.close_code == 1008
        # The bad socket closed without ``stop``: only its own call ended.
        await poll_until(lambda: bad_record.ended_at is not None, 5)
        assert bad_record.outcome == "caller_hung_up"
        assert await _protocol_errors(rig, "twilio") >= 6

        twilio_call = await rig.call_end(good_sid)
        record = await rig.ended_call(placed["call_ref"])
        assert record["outcome"] == "completed"
        assert [line["text"] for line in record["transcript"]] == [GREETING, "Yes.", "Goodbye."]
        good = twilio_call.stream
        assert good is not None
        # Only the loopback set-up's own warning (ws:// rather than wss://).
        assert [code for code, _ in good.warnings] == [31922]
        good_conv = await rig.conversation_of(good_sid)
        assert good_conv.contextual_updates == []
        health = await rig.gw.http.get("/health")
        assert health.status_code == 200 and health.json()["active_calls"] == 0


# -------------------------------------------------------------- bad input from the agent


AgentHandler = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def raw_agent(handler: AgentHandler) -> AsyncIterator[str]:
    """A bare ConvAI-like websocket server running ``handler`` per connection."""
    async with serve(handler, "127.0.0.1", 0, max_size=16 * 2**20, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/convai/conversation"


def _tone(seconds: float) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return mulaw.encode((np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16))


async def test_agent_garbage_and_a_huge_audio_frame_do_not_break_the_call(
    tmp_path: Path,
) -> None:
    big_audio = _tone(120)  # 960 kB of mu-law: 1.28 MB as base64
    big_event = orjson.dumps(el_wire.audio(big_audio, 2)).decode()
    assert 2**20 < len(big_event) < 16 * 2**20
    pongs: list[dict[str, Any]] = []
    closed = asyncio.Event()

    async def agent(ws: ServerConnection) -> None:
        await ws.recv()  # conversation_initiation_client_data
        await ws.send(
            orjson.dumps(el_wire.initiation_metadata("conv_raw", "ulaw_8000", "ulaw_8000")).decode()
        )
        for frame in (
            "garbage{",
            "[1, 2]",
            '{"type": 5}',
            '{"type": "no_such_event", "x": 1}',
            '{"type": "audio"}',
            '{"type": "audio", "audio_event": {"audio_base_64": "!!not base64", "event_id": 1}}',
            b"\xff\xfe binary",
            '{"type": "ping", "ping_event": {"event_id": 41}}',
        ):
            await ws.send(frame)
        await ws.send(orjson.dumps(el_wire.agent_response("A long tone.", 2)).decode())
        await ws.send(big_event)
        try:
            async for raw in ws:
                if isinstance(raw, str) and '"pong"' in raw:
                    pongs.append(orjson.loads(raw))
        finally:
            closed.set()

    async with (
        raw_agent(agent) as ws_url,
        e2e(tmp_path, signed_urls=False, elevenlabs_ws_url=ws_url) as rig,
    ):
        rig.callee(DEBTOR, caller())
        placed = await rig.place_call()
        sid = placed["call_sid"]
        stream = await rig.stream_of(sid)
        await poll_until(lambda: stream.played_s >= 1.0, 5)
        assert pongs == [{"type": "pong", "event_id": 41}]
        # The caller hears the big frame's audio, byte for byte (pass-through).
        heard = bytes(stream.played)
        assert heard == big_audio[: len(heard)]
        assert sid in rig.gw.services.runners
        rig.twilio.hangup(sid)
        record = await rig.ended_call(placed["call_ref"])
        assert record["outcome"] == "caller_hung_up"
        await asyncio.wait_for(closed.wait(), 2)
        assert (await rig.gw.http.get("/health")).status_code == 200


async def test_caller_hanging_up_while_the_agent_connects_closes_that_socket(
    tmp_path: Path,
) -> None:
    """The agent is slow to answer the handshake; the caller gives up meanwhile."""
    opened: list[float] = []
    closed: list[float] = []

    async def slow_agent(ws: ServerConnection) -> None:
        opened.append(time.monotonic())
        await ws.recv()
        metadata = el_wire.initiation_metadata("conv_slow", "ulaw_8000", "ulaw_8000")
        try:
            await asyncio.wait_for(ws.wait_closed(), 3.0)  # no metadata yet
        except TimeoutError:
            await ws.send(orjson.dumps(metadata).decode())
            await ws.wait_closed()
        closed.append(time.monotonic())

    async with (
        raw_agent(slow_agent) as ws_url,
        e2e(
            tmp_path, signed_urls=False, elevenlabs_ws_url=ws_url, agent_connect_timeout_s=5.0
        ) as rig,
    ):
        rig.callee(DEBTOR, caller(hangup_after_s=0.3))
        placed = await rig.place_call()
        twilio_call = await rig.call_end(placed["call_sid"])
        assert twilio_call.stream is not None
        hung_up_at = twilio_call.stream.ended_at
        record = await rig.ended_call(placed["call_ref"])
        assert record["outcome"] == "caller_hung_up"
        await poll_until(lambda: bool(closed), 3)
        assert opened and hung_up_at is not None
        assert closed[0] - hung_up_at < 1.0, "the half-open agent socket was left behind"
        await rig.idle()


async def test_agent_talking_on_after_end_call_is_cut_off_at_the_configured_wait(
    tmp_path: Path,
) -> None:
    """``end_call`` waits for the agent's last words, but not for ever: an agent that
    keeps streaming audio is hung up on after ``PARLEY_END_CALL_MAX_WAIT_S``."""
    ended_call_at: list[float] = []
    closed_at: list[float] = []

    async def chatty_agent(ws: ServerConnection) -> None:
        await ws.recv()
        metadata = el_wire.initiation_metadata("conv_chatty", "ulaw_8000", "ulaw_8000")
        await ws.send(orjson.dumps(metadata).decode())
        tool = el_wire.client_tool_call("end_call", "toolu_chatty", {"reason": "done"}, 1)
        await ws.send(orjson.dumps(tool).decode())
        ended_call_at.append(time.monotonic())

        async def talk() -> None:
            chunk = _tone(0.1)
            with contextlib.suppress(ConnectionClosed):
                for event_id in range(2, 1000):
                    await ws.send(orjson.dumps(el_wire.audio(chunk, event_id)).decode())
                    await asyncio.sleep(0.1)

        talking = asyncio.create_task(talk())
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:  # keep reading, as the service does
                pass
        closed_at.append(time.monotonic())
        talking.cancel()
        await asyncio.gather(talking, return_exceptions=True)

    async with (
        raw_agent(chatty_agent) as ws_url,
        e2e(tmp_path, signed_urls=False, elevenlabs_ws_url=ws_url, end_call_max_wait_s=1.0) as rig,
    ):
        rig.callee(DEBTOR, caller())
        placed = await rig.place_call()
        twilio_call = await rig.call_end(placed["call_sid"])
        record = await rig.ended_call(placed["call_ref"])
        stream = twilio_call.stream
        assert stream is not None and stream.ended_at is not None
        assert stream.end_reason == "server-closed"
        assert record["outcome"] == "completed"
        waited = stream.ended_at - ended_call_at[0]
        assert 0.9 <= waited <= 2.5, waited
        await poll_until(lambda: bool(closed_at), 2)
        assert closed_at[0] - stream.ended_at < 1.0
