"""Every Twilio request is authenticated: webhooks, the media upgrade and the stream start."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.integration.harness import ACCOUNT_SID, Gateway, call_sid

VOICE = {
    "CallSid": call_sid(1),
    "AccountSid": ACCOUNT_SID,
    "From": "+15550009999",
    "To": "+15550000001",
    "Direction": "inbound",
    "CallStatus": "ringing",
}


async def test_voice_webhook_with_valid_signature_gets_stream_twiml(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        response = await gw.post_twilio("/twilio/voice", VOICE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    body = response.text
    assert f'url="ws://127.0.0.1:{gw.server.port}/twilio/media"' in body
    for name in ("direction", "account_id", "stream_token"):
        assert f'name="{name}"' in body
    assert body.rstrip().endswith("<Hangup /></Response>")


@pytest.mark.parametrize(
    ("case", "mutate"),
    [
        ("missing", lambda gw, params: ("", params)),
        (
            "tampered",
            lambda gw, params: (
                gw.sign(gw.url + "/twilio/voice", params),
                {**params, "From": "+15550001234"},
            ),
        ),
        (
            "wrong_url",
            lambda gw, params: (gw.sign("https://evil.example/twilio/voice", params), params),
        ),
        ("wrong_token", lambda gw, params: ("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", params)),
    ],
)
async def test_voice_webhook_refuses_bad_signatures(
    tmp_path: Path, case: str, mutate: object
) -> None:
    async with Gateway(tmp_path) as gw:
        signature, params = mutate(gw, dict(VOICE))  # type: ignore[operator]
        response = await gw.http.post(
            "/twilio/voice",
            data=params,
            headers={"X-Twilio-Signature": signature} if signature else {},
        )
        assert response.status_code == 403, case
        found = await gw.services.calls.by_sid(VOICE["CallSid"])
        assert found is None, "refused input was processed"


async def test_signature_checked_against_public_url_behind_a_proxy(tmp_path: Path) -> None:
    """Twilio signs the public https URL; the gateway sees plain http on loopback."""
    async with Gateway(tmp_path, public_url="https://calls.example.com/parley") as gw:
        signed_public = gw.sign("https://calls.example.com/parley/twilio/voice", VOICE)
        ok = await gw.http.post(
            "/twilio/voice", data=VOICE, headers={"X-Twilio-Signature": signed_public}
        )
        signed_local = gw.sign(f"{gw.url}/twilio/voice", VOICE)
        refused = await gw.http.post(
            "/twilio/voice", data=VOICE, headers={"X-Twilio-Signature": signed_local}
        )
    assert ok.status_code == 200
    assert 'url="wss://calls.example.com/parley/twilio/media"' in ok.text
    assert refused.status_code == 403


async def test_status_webhook_requires_signature(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        await gw.inbound_call(call_sid(2))
        params = {"CallSid": call_sid(2), "CallStatus": "completed", "SequenceNumber": "3"}
        refused = await gw.post_twilio("/twilio/status", params, signature="bogus")
        record = await gw.services.calls.by_sid(call_sid(2))
        assert refused.status_code == 403
        assert record is not None and record.status == "ringing"
        accepted = await gw.post_twilio("/twilio/status", params)
        assert accepted.status_code == 204
        assert record.status == "completed"


async def test_status_callbacks_out_of_order_keep_the_latest_state(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        await gw.inbound_call(call_sid(3))
        for status, seq in [
            ("in-progress", "2"),
            ("ringing", "1"),
            ("completed", "4"),
            ("in-progress", "3"),
        ]:
            response = await gw.post_twilio(
                "/twilio/status",
                {"CallSid": call_sid(3), "CallStatus": status, "SequenceNumber": seq},
            )
            assert response.status_code == 204
        record = await gw.services.calls.by_sid(call_sid(3))
        assert record is not None
        assert record.status == "completed"
        assert [u.status for u in record.history] == [
            "ringing",
            "in-progress",
            "in-progress",
            "completed",
        ]
        assert record.ended_at is not None and record.outcome == "completed"


async def test_status_webhook_rejects_unknown_status_naming_it(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        await gw.inbound_call(call_sid(4))
        response = await gw.post_twilio(
            "/twilio/status", {"CallSid": call_sid(4), "CallStatus": "exploded"}
        )
    assert response.status_code == 400
    assert "CallStatus" in response.text


def _start(sid: str, params: dict[str, str]) -> str:
    return orjson.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZ" + "0" * 32,
            "start": {
                "streamSid": "MZ" + "0" * 32,
                "accountSid": ACCOUNT_SID,
                "callSid": sid,
                "tracks": ["inbound"],
                "customParameters": params,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    ).decode()


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl", "wrong-url"])
async def test_media_upgrade_refused_without_valid_signature(
    tmp_path: Path, signature: str
) -> None:
    async with Gateway(tmp_path) as gw:
        stream = await gw.inbound_call(call_sid(5))
        if signature == "wrong-url":
            signature = gw.sign(stream.url + "/other", {})
        headers = {"X-Twilio-Signature": signature} if signature else {}
        with pytest.raises(InvalidStatus) as refused:
            async with connect(stream.url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 403


async def test_stream_start_needs_the_one_time_token_and_known_call(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        stream = await gw.inbound_call(call_sid(6))
        headers = {"X-Twilio-Signature": gw.sign(stream.url, {})}
        bad_token = {**stream.parameters, "stream_token": "guessed"}
        for sid, params in [(call_sid(6), bad_token), (call_sid(99), stream.parameters)]:
            async with connect(stream.url, additional_headers=headers) as ws:
                await ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
                await ws.send(_start(sid, params))
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1008
        # The guessed token spent the real one: it cannot be replayed either.
        async with connect(stream.url, additional_headers=headers) as ws:
            await ws.send(_start(call_sid(6), stream.parameters))
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1008
        assert gw.services.runners == {}
