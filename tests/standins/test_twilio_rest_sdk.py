"""The Twilio stand-in's REST API, driven by the real twilio SDK (sync and async)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from gateway.standins.twilio_call import Callee
from gateway.standins.twilio_sdk import AsyncStandInHttpClient, StandInHttpClient
from gateway.standins.twilio_standin import TwilioStandIn
from tests.standins.fake_gateway import PUBLIC, FakeGateway, MediaSession, serve

SID = "AC" + "a" * 32
TOKEN = "rest-token"


@pytest.fixture
async def stack() -> AsyncIterator[tuple[FakeGateway, TwilioStandIn, Client]]:
    fake = FakeGateway(TOKEN)
    async with serve(fake.app) as url:
        twilio = TwilioStandIn(SID, TOKEN, url, public_url=PUBLIC)
        await twilio.start()
        client = Client(SID, TOKEN, http_client=StandInHttpClient(twilio.rest_url))
        try:
            yield fake, twilio, client
        finally:
            await twilio.stop()


async def test_create_update_and_fetch_a_call_through_the_sdk(
    stack: tuple[FakeGateway, TwilioStandIn, Client],
) -> None:
    fake, twilio, client = stack
    twilio.callees["+34600000002"] = Callee(answered_by="machine_end_beep", amd_duration_ms=100)

    call = await asyncio.to_thread(
        client.calls.create,
        to="+34600000002",
        from_="+15550000002",
        url=f"{PUBLIC}/twilio/voice",
        status_callback=f"{PUBLIC}/twilio/status",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        machine_detection="DetectMessageEnd",
        async_amd="true",
        async_amd_status_callback=f"{PUBLIC}/twilio/amd",
    )
    assert call.sid.startswith("CA") and len(call.sid) == 34
    assert call.status == "queued"
    assert (call.to, call._from, call.direction) == ("+34600000002", "+15550000002", "outbound-api")
    assert call.account_sid == SID and call.api_version == "2010-04-01"

    record = twilio.calls[call.sid]
    await record.wait_until(lambda r: bool(fake.sessions) and bool(fake.hooks_at("amd")), 5)
    session: MediaSession = fake.sessions[0]
    await asyncio.to_thread(
        client.calls(call.sid).update,
        twiml="<Response><Say>Transferring you now</Say>"
        "<Dial><Number>+15551112222</Number></Dial></Response>",
    )
    await twilio.wait_for_call_end(call.sid, 10)

    assert session.events("stop"), "replacing the TwiML stops the stream with a stop message"
    assert record.streams[0].end_reason == "stopped"
    assert record.says == ["Transferring you now"]
    assert record.transfers == ["+15551112222"]
    assert record.status == "completed"

    statuses = fake.hooks_at("status")
    assert all(hook.valid for hook in fake.hooks)
    assert [h.form["CallStatus"] for h in statuses] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert [h.form["SequenceNumber"] for h in statuses] == ["0", "1", "2", "3"]
    assert statuses[-1].form["CallDuration"].isdigit()
    assert statuses[0].form["CallbackSource"] == "call-progress-events"
    amd = fake.hooks_at("amd")[0].form
    assert amd["AnsweredBy"] == "machine_end_beep" and amd["MachineDetectionDuration"] == "100"
    voice = fake.hooks_at("voice")[0].form
    assert voice["CallStatus"] == "in-progress" and voice["Direction"] == "outbound-api"

    fetched = await asyncio.to_thread(client.calls(call.sid).fetch)
    assert fetched.status == "completed" and fetched.answered_by == "machine_end_beep"
    assert int(fetched.duration) >= 0


async def test_hang_up_through_the_sdk_and_status_events_default_to_completed(
    stack: tuple[FakeGateway, TwilioStandIn, Client],
) -> None:
    fake, twilio, client = stack
    call = await asyncio.to_thread(
        client.calls.create,
        to="+34600000003",
        from_="+15550000003",
        twiml="<Response><Connect><Stream url='wss://public.example/twilio/media'/></Connect>"
        "</Response>",
        status_callback=f"{PUBLIC}/twilio/status",
    )
    record = twilio.calls[call.sid]
    await record.wait_until(lambda r: bool(fake.sessions), 5)
    updated = await asyncio.to_thread(client.calls(call.sid).update, status="completed")
    assert updated.status == "completed"
    await twilio.wait_for_call_end(call.sid, 5)
    assert record.end_reason == "api-hangup"
    assert fake.sessions[0].events("stop")
    assert [h.form["CallStatus"] for h in fake.hooks_at("status")] == ["completed"]
    assert not fake.hooks_at("voice"), "inline Twiml is not fetched"


async def test_errors_come_back_as_twilio_rest_exceptions(
    stack: tuple[FakeGateway, TwilioStandIn, Client],
) -> None:
    _, twilio, client = stack
    intruder = Client(SID, "wrong-token", http_client=StandInHttpClient(twilio.rest_url))
    with pytest.raises(TwilioRestException) as denied:
        await asyncio.to_thread(intruder.calls.create, to="+1", from_="+2", twiml="<Response/>")
    assert (denied.value.status, denied.value.code) == (401, 20003)

    with pytest.raises(TwilioRestException) as missing:
        await asyncio.to_thread(client.calls("CA" + "0" * 32).fetch)
    assert (missing.value.status, missing.value.code) == (404, 20404)

    with pytest.raises(TwilioRestException) as no_to:
        await asyncio.to_thread(client.calls.create, to="", from_="+2", twiml="<Response/>")
    assert no_to.value.code == 21201

    call = await asyncio.to_thread(
        client.calls.create, to="+1", from_="+2", twiml="<Response><Hangup/></Response>"
    )
    await twilio.wait_for_call_end(call.sid, 5)
    with pytest.raises(TwilioRestException) as too_late:
        await asyncio.to_thread(client.calls(call.sid).update, twiml="<Response/>")
    assert (too_late.value.status, too_late.value.code) == (400, 21220)


async def test_async_sdk_client_reaches_the_stand_in(
    stack: tuple[FakeGateway, TwilioStandIn, Client],
) -> None:
    _, twilio, _ = stack
    http = AsyncStandInHttpClient(twilio.rest_url)
    client = Client(SID, TOKEN, http_client=http)
    try:
        call = await client.calls.create_async(
            to="+34600000004", from_="+15550000004", twiml="<Response><Say>Hi</Say></Response>"
        )
        await twilio.wait_for_call_end(call.sid, 5)
        fetched = await client.calls(call.sid).fetch_async()
    finally:
        await http.close()
    assert fetched.status == "completed"
    assert twilio.calls[call.sid].says == ["Hi"]


async def test_redirect_to_a_url_restarts_the_stream(
    stack: tuple[FakeGateway, TwilioStandIn, Client],
) -> None:
    fake, twilio, client = stack
    call = await asyncio.to_thread(
        client.calls.create, to="+34600000005", from_="+15550000005", url=f"{PUBLIC}/twilio/voice"
    )
    record = twilio.calls[call.sid]
    await record.wait_until(lambda r: len(fake.sessions) == 1, 5)
    await asyncio.to_thread(client.calls(call.sid).update, url=f"{PUBLIC}/twilio/action")
    await record.wait_until(lambda r: len(fake.sessions) == 2, 5)
    assert fake.sessions[0].events("stop")
    redirect = fake.hooks_at("action")[0]
    assert redirect.valid and redirect.form["CallStatus"] == "in-progress"
    assert [s.end_reason for s in record.streams[:1]] == ["stopped"]
    twilio.hangup(call.sid)
    await twilio.wait_for_call_end(call.sid, 5)
    assert record.end_reason == "caller-hangup"
    assert fake.sessions[1].events("stop")


async def test_unanswered_calls_end_with_their_status(
    stack: tuple[FakeGateway, TwilioStandIn, Client],
) -> None:
    fake, twilio, client = stack
    twilio.callees["+1001"] = Callee(answer="busy")
    twilio.callees["+1002"] = Callee(ring_s=2.0)
    sids = []
    for to in ("+1001", "+1002"):
        call = await asyncio.to_thread(
            client.calls.create,
            to=to,
            from_="+2",
            url=f"{PUBLIC}/twilio/voice",
            status_callback=f"{PUBLIC}/twilio/status",
            timeout=1,
        )
        sids.append(call.sid)
    for sid in sids:
        await twilio.wait_for_call_end(sid, 5)
    assert [twilio.calls[sid].status for sid in sids] == ["busy", "no-answer"]
    assert sorted(h.form["CallStatus"] for h in fake.hooks_at("status")) == ["busy", "no-answer"]
    assert not fake.hooks_at("voice")
