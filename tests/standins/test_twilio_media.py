"""The Media Streams side of the Twilio stand-in, against a tiny fake gateway."""

from __future__ import annotations

import asyncio
import base64
import itertools
import statistics
import time
from collections.abc import AsyncIterator

import pytest

from gateway.standins.speech import synthesize
from gateway.standins.twilio_caller import CallerLine, CallerScript
from gateway.standins.twilio_records import CallRecord
from gateway.standins.twilio_standin import TwilioStandIn
from media import mulaw
from tests.standins.fake_gateway import PUBLIC, FakeGateway, MediaSession, serve

SID = "AC" + "0" * 32
TOKEN = "test-auth-token"
VOICE_URL = f"{PUBLIC}/twilio/voice"
SILENCE = bytes([0xFF]) * 160


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[FakeGateway, TwilioStandIn]]:
    fake = FakeGateway(TOKEN)
    async with serve(fake.app) as url:
        twilio = TwilioStandIn(SID, TOKEN, url, public_url=PUBLIC)
        await twilio.start()
        try:
            yield fake, twilio
        finally:
            await twilio.stop()


def tone(seconds: float) -> bytes:
    """Loud agent audio (any non-silent mu-law will do for the phone)."""
    return bytes([0x10, 0x90]) * int(seconds * 4000)


def payload(message: dict[str, object]) -> bytes:
    media = message["media"]
    assert isinstance(media, dict)
    return base64.b64decode(media["payload"])


async def call_with(
    pair: tuple[FakeGateway, TwilioStandIn], caller: CallerScript | None = None
) -> tuple[CallRecord, MediaSession]:
    fake, twilio = pair
    call = await twilio.simulate_inbound_call(
        "+34600000001", "+15550000001", VOICE_URL, caller=caller
    )
    await call.wait_until(lambda c: bool(fake.sessions), 5)
    return call, fake.sessions[0]


async def test_start_messages_and_real_time_pacing(
    gateway: tuple[FakeGateway, TwilioStandIn],
) -> None:
    fake, twilio = gateway

    async def listen_one_second(session: MediaSession) -> None:
        await asyncio.sleep(1.0)

    fake.scenario = listen_one_second
    fake.close_after_scenario = True
    call, session = await call_with(gateway)
    await twilio.wait_for_call_end(call.sid, 5)

    assert session.handshake_valid
    assert fake.hooks_at("voice")[0].valid
    assert fake.hooks_at("voice")[0].form["Direction"] == "inbound"
    assert fake.hooks_at("voice")[0].form["CallStatus"] == "ringing"
    assert session.first[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = session.start
    assert start["event"] == "start" and start["sequenceNumber"] == "1"
    assert start["streamSid"].startswith("MZ") and len(start["streamSid"]) == 34
    assert start["start"] == {
        "streamSid": start["streamSid"],
        "accountSid": SID,
        "callSid": call.sid,
        "tracks": ["inbound"],
        "customParameters": {"call_token": "t-123"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }

    media = session.events("media")
    assert 45 <= len(media) <= 56
    for index, (_, message) in enumerate(media):
        body = message["media"]
        assert message["sequenceNumber"] == str(index + 2)
        assert body["chunk"] == str(index + 1)
        assert body["timestamp"] == str(index * 20)
        assert body["track"] == "inbound"
        assert payload(message) == SILENCE

    times = call.streams[0].frame_times
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.mean(gaps) == pytest.approx(0.020, abs=0.0005)
    # Scheduled from a monotonic clock: no drift over the whole run.
    assert times[-1] - times[0] == pytest.approx(0.020 * (len(times) - 1), abs=0.01)
    assert call.status == "completed" and call.end_reason == "hangup-verb"
    assert call.streams[0].end_reason == "server-closed"
    assert not call.streams[0].stop_sent


async def test_marks_are_echoed_when_their_audio_has_played(
    gateway: tuple[FakeGateway, TwilioStandIn],
) -> None:
    fake, twilio = gateway
    sent: dict[str, float] = {}

    async def marks(session: MediaSession) -> None:
        await session.media(tone(0.4))
        await session.mark("a")
        sent["a"] = time.monotonic()
        await session.media(tone(0.2))
        await session.mark("b")
        await session.wait_for(lambda: len(session.events("mark")) == 2)
        await asyncio.sleep(0.1)
        sent["c"] = time.monotonic()
        await session.mark("c")  # nothing queued: echoed at once
        await session.wait_for(lambda: len(session.events("mark")) == 3)

    fake.scenario = marks
    fake.close_after_scenario = True
    call, session = await call_with(gateway)
    await twilio.wait_for_call_end(call.sid, 5)

    echoes = {m["mark"]["name"]: t for t, m in session.events("mark")}
    assert list(echoes) == ["a", "b", "c"]
    assert echoes["a"] - sent["a"] == pytest.approx(0.4, abs=0.05)
    assert echoes["b"] - sent["a"] == pytest.approx(0.6, abs=0.05)
    assert echoes["c"] - sent["c"] < 0.03
    stream = call.streams[0]
    assert stream.played_s == pytest.approx(0.6)
    assert [echo.cleared for echo in stream.marks_echoed] == [False, False, False]
    for _, message in session.events("mark"):
        assert set(message) == {"event", "sequenceNumber", "streamSid", "mark"}


async def test_clear_drops_queued_audio_and_echoes_pending_marks(
    gateway: tuple[FakeGateway, TwilioStandIn],
) -> None:
    fake, twilio = gateway
    cleared_at: list[float] = []

    async def clear(session: MediaSession) -> None:
        await session.media(tone(2.0))
        await session.mark("end-of-turn")
        await asyncio.sleep(0.3)
        cleared_at.append(time.monotonic())
        await session.clear()
        await session.wait_for(lambda: bool(session.events("mark")))

    fake.scenario = clear
    fake.close_after_scenario = True
    call, session = await call_with(gateway)
    await twilio.wait_for_call_end(call.sid, 5)

    echo_time, echo = session.events("mark")[0]
    assert echo["mark"]["name"] == "end-of-turn"
    # Echoed by the clear, not once the 1.7 s of audio still queued had played (the
    # margin is wide on purpose: a loaded machine delays, it does not play faster).
    assert echo_time - cleared_at[0] < 1.0
    stream = call.streams[0]
    assert stream.marks_echoed[0].cleared
    assert 0.25 <= stream.played_s < 1.0  # the 0.3 s before the clear, not the 2 s queued
    assert stream.dropped_bytes + len(stream.played) == 16000
    assert len(stream.clears) == 1


async def test_caller_barges_in_over_the_agent(
    gateway: tuple[FakeGateway, TwilioStandIn],
) -> None:
    fake, twilio = gateway
    audio_sent: list[float] = []

    def caller_speaking(session: MediaSession) -> bool:
        return any(payload(m) != SILENCE for _, m in session.events("media"))

    async def talk_then_clear(session: MediaSession) -> None:
        audio_sent.append(time.monotonic())
        await session.media(tone(3.0))
        await session.wait_for(lambda: caller_speaking(session), 3)
        await session.clear()
        await asyncio.sleep(0.2)

    fake.scenario = talk_then_clear
    fake.close_after_scenario = True
    caller = CallerScript((CallerLine("Sorry, can I stop you there?", barge_in_after_ms=400),))
    call, session = await call_with(gateway, caller)
    await twilio.wait_for_call_end(call.sid, 6)

    first_voice = next(t for t, m in session.events("media") if payload(m) != SILENCE)
    assert first_voice - audio_sent[0] == pytest.approx(0.4, abs=0.08)
    stream = call.streams[0]
    assert stream.caller_lines[0].over_agent
    assert stream.played_s == pytest.approx(0.42, abs=0.08)
    assert stream.dropped_bytes > 18000


async def test_caller_replies_after_silence_presses_keys_and_hangs_up(
    gateway: tuple[FakeGateway, TwilioStandIn],
) -> None:
    fake, twilio = gateway
    audio_sent: list[float] = []

    def caller_done(session: MediaSession) -> bool:
        frames = [payload(m) != SILENCE for _, m in session.events("media")]
        return any(frames) and not any(frames[-10:])

    async def two_turns(session: MediaSession) -> None:
        audio_sent.append(time.monotonic())
        await session.media(mulaw.encode(synthesize("Hello?")))
        await session.wait_for(lambda: caller_done(session), 5)
        await session.media(tone(0.2))  # "please press your code"
        await session.wait_for(lambda: len(session.events("dtmf")) == 2, 5)
        await session.media(tone(0.2))  # "thank you"

    fake.scenario = two_turns
    caller = CallerScript.of(
        ["Yes, speaking.", CallerLine(dtmf="42")], hangup_when_done=True, done_linger_s=0.3
    )
    call, session = await call_with(gateway, caller)
    await twilio.wait_for_call_end(call.sid, 8)

    stream = call.streams[0]
    agent_s = len(mulaw.encode(synthesize("Hello?"))) / 8000
    first_voice = next(t for t, m in session.events("media") if payload(m) != SILENCE)
    assert first_voice - audio_sent[0] == pytest.approx(agent_s + 0.7, abs=0.08)
    digits = [m["dtmf"] for _, m in session.events("dtmf")]
    assert digits == [
        {"track": "inbound_track", "digit": "4"},
        {"track": "inbound_track", "digit": "2"},
    ]
    stop = session.events("stop")[0][1]
    assert stop["stop"] == {"accountSid": SID, "callSid": call.sid}
    assert stream.end_reason == "caller-hangup" and stream.stop_sent
    assert call.end_reason == "caller-hangup" and call.status == "completed"
    assert [line.text for line in stream.caller_lines] == ["Yes, speaking.", ""]


async def test_protocol_faults_become_twilio_warnings(
    gateway: tuple[FakeGateway, TwilioStandIn],
) -> None:
    fake, twilio = gateway

    async def misbehave(session: MediaSession) -> None:
        await session.ws.send_bytes(b"\x00\x01")
        await session.send({"event": "media", "streamSid": "MZwrong", "media": {"payload": ""}})
        await session.send(
            {
                "event": "media",
                "streamSid": session.stream_sid,
                "media": {"payload": "AA==", "chunk": "1"},
            }
        )
        await session.send({"event": "dance", "streamSid": session.stream_sid})
        await asyncio.sleep(0.1)

    fake.scenario = misbehave
    fake.close_after_scenario = True
    call, _ = await call_with(gateway)
    await twilio.wait_for_call_end(call.sid, 5)
    codes = [code for code, _ in call.streams[0].warnings]
    assert codes == [31950, 31951, 31951, 31951]
    assert call.streams[0].media_bytes_received == 1  # the extra field is only a warning


async def test_stream_url_query_is_dropped_and_wss_can_be_required() -> None:
    fake = FakeGateway(TOKEN)
    fake.twiml = lambda: (
        '<Response><Connect><Stream url="wss://public.example/twilio/media?token=x"/></Connect>'
        '<Connect><Stream url="ws://public.example/twilio/media"/></Connect>'
        "<Say>Goodbye</Say></Response>"
    )
    fake.close_after_scenario = True
    async with (
        serve(fake.app) as url,
        TwilioStandIn(SID, TOKEN, url, public_url=PUBLIC, require_wss=True) as twilio,
    ):
        call = await twilio.simulate_inbound_call("+1", "+2", VOICE_URL)
        await twilio.wait_for_call_end(call.sid, 5)
    first, second = call.streams
    assert first.url == "wss://public.example/twilio/media"
    assert (31951, "<Stream url> query string dropped") in first.warnings
    assert fake.sessions[0].handshake_valid
    assert second.end_reason == "rejected" and second.warnings[0][0] == 31922
    assert call.says == ["Goodbye"]
    assert len(fake.sessions) == 1
