"""The operator API and the live feed: authenticated, validated, scoped to one organization."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.integration.harness import ORG_A_KEY, ORG_B_KEY, Gateway, call_sid


async def test_place_call_requires_an_api_key(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        body = {"account_id": "acc-1", "to": "+34600000001"}
        missing = await gw.http.post("/api/calls", json=body)
        wrong = await gw.http.post("/api/calls", json=body, headers={"X-API-Key": "nope"})
    assert missing.status_code == 401
    assert wrong.status_code == 401


async def test_place_call_names_each_bad_field(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        response = await gw.http.post(
            "/api/calls",
            json={"to": "600 000 001", "opening_mode": "whoever"},
            headers={"Authorization": f"Bearer {ORG_A_KEY}"},
        )
        not_json = await gw.http.post(
            "/api/calls", content=b"{", headers={"Authorization": f"Bearer {ORG_A_KEY}"}
        )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"account_id", "to", "opening_mode"}
    assert not_json.status_code == 400


async def test_calls_are_visible_only_to_their_organization(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        await gw.inbound_call(call_sid(10))  # inbound calls belong to org-a here
        own = await gw.http.get(f"/api/calls/{call_sid(10)}", headers={"X-API-Key": ORG_A_KEY})
        other = await gw.http.get(f"/api/calls/{call_sid(10)}", headers={"X-API-Key": ORG_B_KEY})
        hang_up = await gw.http.post(
            f"/api/calls/{call_sid(10)}/hangup", headers={"X-API-Key": ORG_B_KEY}
        )
        listed_a = await gw.http.get("/api/calls", headers={"X-API-Key": ORG_A_KEY})
        listed_b = await gw.http.get("/api/calls", headers={"X-API-Key": ORG_B_KEY})
    assert own.status_code == 200
    assert own.json()["call_sid"] == call_sid(10)
    assert "stream_token" not in own.text
    assert other.status_code == 404
    assert hang_up.status_code == 404
    assert [c["call_sid"] for c in listed_a.json()["calls"]] == [call_sid(10)]
    assert listed_b.json()["calls"] == []


async def test_live_feed_needs_a_key(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        for suffix in ("/live", "/live?api_key=wrong-key-000000000"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(gw.url.replace("http", "ws") + suffix):
                    pass
            assert refused.value.response.status_code == 403


async def test_supervisor_receives_only_their_organizations_events(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        base = gw.url.replace("http", "ws") + "/live?api_key="
        async with connect(base + ORG_A_KEY) as sup_a, connect(base + ORG_B_KEY) as sup_b:
            for _ in range(100):  # both subscriptions are registered
                if gw.services.hub.subscriber_count == 2:
                    break
                await asyncio.sleep(0.01)
            await gw.inbound_call(call_sid(11))
            await gw.post_twilio(
                "/twilio/status",
                {"CallSid": call_sid(11), "CallStatus": "in-progress", "SequenceNumber": "1"},
            )
            created = orjson.loads(await asyncio.wait_for(sup_a.recv(), 5))
            assert created["type"] == "call.created"
            assert created["data"]["direction"] == "inbound"
            assert created["data"]["number"] == "+15550009999"
            event = orjson.loads(await asyncio.wait_for(sup_a.recv(), 5))
            assert event["call_sid"] == call_sid(11)
            assert event["type"] == "call.status"
            assert event["data"]["status"] == "in-progress"
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(sup_b.recv(), 0.5)


async def test_health_and_metrics(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        health = await gw.http.get("/health")
        metrics = await gw.http.get("/metrics")
    assert health.json() == {"status": "ok", "active_calls": 0}
    for name in (
        "parley_active_calls",
        "parley_frames_relayed_total",
        "parley_added_latency_seconds",
        "parley_agent_connect_seconds",
        "parley_agent_reconnects_total",
        "parley_tool_latency_seconds",
    ):
        assert name in metrics.text
