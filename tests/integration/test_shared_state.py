"""One gateway on Redis: calls go on when Redis goes away; call limits answer clearly.

The gateway runs with ``PARLEY_REDIS_URL`` pointing at a ``redis-server`` of the test's
own, so the test can kill it mid-call and bring it back on the same port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.live_redis import DEGRADED, RESTORED
from gateway.redis_link import RedisUnavailable
from gateway.standins.elevenlabs import EndCall, Listen, Say
from gateway.standins.waiting import poll_until
from tests.integration.e2e import DEBTOR, caller, e2e, script
from tests.integration.harness import ORG_A_KEY, ensure_account
from tests.redis_server import RedisServer
from tests.system_tools import require_tool

LONG = script(
    Listen("Yes."),
    Say("Thank you. One moment please, I am looking at your account now."),
    Listen("Sure."),
    EndCall(goodbye="Goodbye.", via="client"),
)


@pytest.fixture(autouse=True)
def _espeak() -> None:
    require_tool("espeak-ng")


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_call_goes_on_when_redis_goes_away_and_the_gateway_reconnects(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    async with e2e(tmp_path, agent_script=LONG, redis_url=own_redis.url) as rig:
        services = rig.gw.services
        async with rig.live() as feed:
            await poll_until(lambda: services.hub.listening("org-a"), 5)
            call = await rig.inbound_call(caller("Yes.", "Sure."))
            stream = await rig.stream_of(call.sid)
            await poll_until(lambda: stream.first_media_at is not None, 10)
            own_redis.kill()
            await feed.wait_for(DEGRADED, 10)
            ended = await rig.call_end(call.sid, 40)
            assert ended.stream is not None and ended.stream.end_reason in (
                "stopped",
                "server-closed",
            )
            conv = await rig.conversation_of(call.sid)
            assert list(conv.user_transcripts) == ["Yes.", "Sure."], "the whole call happened"
            kinds = feed.types(call.sid)
            assert "caller" in kinds and "call.ended" in kinds, "local supervisors still see it"
            health = (await rig.gw.http.get("/health")).json()
            assert health["redis"] == "unavailable" and health["live"] == "degraded"

            own_redis.start()  # same port: the gateway finds it again by itself
            await feed.wait_for(RESTORED, 15)
            # The end of the call, reached during the outage, is written once Redis is back.
            await ended_in_registry(services, call.sid, 15)
        assert (await rig.gw.http.get("/health")).json()["redis"] == "ok"
        # And the next call runs through Redis as usual.
        second = await rig.inbound_call(caller("Yes.", "Sure."))
        await rig.call_end(second.sid, 40)
        record = await services.calls.by_sid(second.sid)
        assert record is not None and record.owner == services.gateway_id


async def ended_in_registry(services: Any, sid: str, timeout_s: float) -> None:
    """Wait until the shared registry (Redis) has the call as ended."""
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                record = await services.calls.by_sid(sid)
            except RedisUnavailable:
                record = None
            if record is not None and record.ended_at is not None:
                return
            await asyncio.sleep(0.05)


async def place(rig: Any, to: str) -> Any:
    await ensure_account(rig.gw, "org-a", f"ACC{to}", to)
    body = {"account_id": f"ACC{to}", "to": to, "language": "en"}
    return await rig.gw.http.post("/api/calls", json=body, headers={"X-API-Key": ORG_A_KEY})


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_an_organization_over_its_limits_is_refused_with_the_reason(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    settings: dict[str, Any] = {}
    if backend == "redis":
        settings["redis_url"] = request.getfixturevalue("redis_server").url
    async with e2e(tmp_path, **settings) as rig:
        patched = await rig.gw.http.patch(
            "/api/org",
            json={"limits": {"max_concurrent_calls": 1, "calls_per_second": 100}},
            headers={"X-API-Key": ORG_A_KEY},
        )
        assert patched.status_code == 200, patched.text
        rig.gw.services.records.forget("org-a")
        bad = await rig.gw.http.patch(
            "/api/org",
            json={"limits": {"calls_per_second": -1}},
            headers={"X-API-Key": ORG_A_KEY},
        )
        assert bad.status_code == 422 and "limits.calls_per_second" in bad.text
        rig.callee(DEBTOR, caller("Yes.", speak_first=True))
        first = await place(rig, DEBTOR)
        assert first.status_code == 201, first.text
        second = await place(rig, "+15550100002")
        assert second.status_code == 409
        assert second.json()["reason"] == "concurrent_calls_limit"
        assert "limit is 1" in second.json()["error"]
        await rig.call_end(first.json()["call_sid"], 30)
        await poll_until(lambda: not rig.gw.services.runners, 10)

        unset = await rig.gw.http.patch(
            "/api/org",
            json={"limits": {"max_concurrent_calls": None, "calls_per_second": 0.5}},
            headers={"X-API-Key": ORG_A_KEY},
        )
        assert unset.status_code == 200, unset.text
        assert unset.json()["limits"] == {"calls_per_second": 0.5}
        rig.gw.services.records.forget("org-a")  # (organization settings are cached 5 s)
        rig.callee("+15550100003", caller("Yes.", speak_first=True))
        third = await place(rig, "+15550100003")
        if third.status_code == 429:  # the first call started less than 2 s ago
            await asyncio.sleep(third.json()["retry_after_s"] + 0.05)
            third = await place(rig, "+15550100003")
        assert third.status_code == 201, third.text
        fourth = await place(rig, "+15550100004")
        assert fourth.status_code == 429, fourth.text
        assert fourth.json()["reason"] == "calls_per_second_limit"
        assert int(fourth.headers["Retry-After"]) >= 1
        await rig.call_end(third.json()["call_sid"], 30)
