"""Post-call webhooks from the stand-in, checked with the SDK's own verifier."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from elevenlabs import AsyncElevenLabs, ElevenLabs
from elevenlabs.errors import BadRequestError
from elevenlabs.types import WebhookHmacSettings

from gateway.standins.elevenlabs import (
    SIGNATURE_HEADER,
    AgentOptions,
    Analysis,
    ElevenLabsStandIn,
    EndCall,
    PostCallWebhook,
    Script,
    sign,
)
from gateway.standins.elevenlabs.options import DeliveryFault
from tests.standins.el_peer import peer
from tests.standins.http_sink import HttpSink, Received

SECRET = "whsec-0123456789abcdef"
KEY = "xi-post-call"
SCRIPT = Script(
    "en",
    "Hello {{debtor_first_name}}.",
    (EndCall(goodbye="Bye.", via="system"),),
    analysis=Analysis(
        data={"disposition": "promise_to_pay", "sentiment": "positive", "willingness_to_pay": 5},
        summary="Promise taken.",
    ),
)


def verify(received: Received, secret: str = SECRET) -> dict[str, object]:
    """What the SDK's ``construct_event`` makes of a delivery (raises when refused)."""
    event: dict[str, object] = ElevenLabs(api_key="x").webhooks.construct_event(
        received.body.decode(), received.headers.get(SIGNATURE_HEADER.lower(), ""), secret
    )
    return event


def test_the_signer_matches_the_sdk_verifier() -> None:
    body = orjson.dumps({"type": "post_call_transcription", "data": {"a": "ñ"}}).decode()
    now = int(time.time())
    sdk = ElevenLabs(api_key="x").webhooks
    assert sdk.construct_event(body, sign(SECRET, body, now), SECRET)["data"] == {"a": "ñ"}
    for header, secret in (
        (sign("another-secret-1234", body, now), SECRET),
        (sign(SECRET, body, now - 31 * 60), SECRET),
        (sign(SECRET, body + " ", now), SECRET),
    ):
        with pytest.raises(BadRequestError):
            sdk.construct_event(body, header, secret)


async def run_call(hook: PostCallWebhook | None, **options: object) -> ElevenLabsStandIn:
    standin = ElevenLabsStandIn(
        AgentOptions(ping_interval_s=60, script=SCRIPT, analysis_delay_s=0.05,
                     post_call_webhook=hook, api_key=KEY, **options)  # type: ignore[arg-type]
    )
    await standin.start()
    async with peer(standin) as client:
        await client.init(dynamic_variables={"debtor_first_name": "Ann", "call_sid": "CA77"})
        await client.closed()
    return standin


async def test_a_signed_transcription_is_posted_after_the_call() -> None:
    async with HttpSink() as sink:
        standin = await run_call(PostCallWebhook(f"{sink.url}/elevenlabs/post-call", SECRET))
        try:
            [received] = await sink.wait_for(1)
            record = await standin.wait_for_conversation()
            rest = standin.conversation_json(record.conversation_id)
        finally:
            await standin.stop()
    event = verify(received)
    assert received.path == "/elevenlabs/post-call"
    assert event["type"] == "post_call_transcription"
    assert isinstance(event["event_timestamp"], int)
    assert event["data"] == rest  # the same object as GET /v1/convai/conversations/{id}
    data = rest
    assert data["status"] == "done"
    assert data["conversation_initiation_client_data"]["dynamic_variables"]["call_sid"] == "CA77"
    assert data["analysis"]["data_collection_results"]["willingness_to_pay"]["value"] == 5
    assert data["analysis"]["transcript_summary"] == "Promise taken."


async def test_copies_and_delay() -> None:
    async with HttpSink() as sink:
        standin = await run_call(PostCallWebhook(sink.url, SECRET, copies=3, delay_s=0.2))
        try:
            received = await sink.wait_for(3)
            await standin.wait_for_deliveries(3)
        finally:
            await standin.stop()
    events = [verify(r) for r in received]
    assert len(events) == 3
    assert all(e == events[0] for e in events)
    assert [d.status for d in standin.deliveries] == [200, 200, 200]


@pytest.mark.parametrize(
    "fault", ["wrong_secret", "tampered_body", "stale", "no_signature", "malformed_json"]
)
async def test_spoiled_deliveries_fail_the_sdk_check(fault: DeliveryFault) -> None:
    async with HttpSink() as sink:
        standin = await run_call(PostCallWebhook(sink.url, SECRET, fault=fault))
        try:
            [received] = await sink.wait_for(1)
        finally:
            await standin.stop()
    with pytest.raises((BadRequestError, ValueError)):
        verify(received)


async def test_a_lost_webhook_is_never_sent_but_the_conversation_is_there() -> None:
    async with HttpSink() as sink:
        standin = await run_call(PostCallWebhook(sink.url, SECRET, fault="lost"))
        try:
            record = await standin.wait_for_conversation()
            await record.wait_closed()
            async with httpx.AsyncClient(base_url=standin.base_url) as http:
                for _ in range(100):
                    got = await http.get(
                        f"/v1/convai/conversations/{record.conversation_id}",
                        headers={"xi-api-key": KEY},
                    )
                    if got.json()["status"] == "done":
                        break
        finally:
            await standin.stop()
    assert sink.received == []
    assert got.json()["analysis"]["data_collection_results"]["disposition"]["value"] == (
        "promise_to_pay"
    )


async def test_a_workspace_webhook_attached_through_the_api_is_used() -> None:
    async with HttpSink() as sink:
        standin = ElevenLabsStandIn(
            AgentOptions(ping_interval_s=60, script=SCRIPT, analysis_delay_s=0.05, api_key=KEY)
        )
        await standin.start()
        try:
            sdk = AsyncElevenLabs(api_key=KEY, base_url=standin.base_url)
            created = await sdk.webhooks.create(
                settings=WebhookHmacSettings(name="parley", webhook_url=f"{sink.url}/pc")
            )
            await sdk.conversational_ai.settings.update(
                webhooks={"post_call_webhook_id": created.webhook_id, "events": ["transcript"]}
            )
            async with peer(standin) as client:
                await client.init(dynamic_variables={"debtor_first_name": "Ann"})
                await client.closed()
            [received] = await sink.wait_for(1)
        finally:
            await standin.stop()
    assert created.webhook_secret is not None
    assert verify(received, created.webhook_secret)["type"] == "post_call_transcription"
