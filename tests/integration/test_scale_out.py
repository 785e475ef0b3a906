"""Two gateway processes behind one load balancer, sharing Redis and PostgreSQL.

Two real ``parley serve`` processes, A and B, a real ``redis-server``, one PostgreSQL
database, and both provider stand-ins. A path-routing balancer stands in front:
Twilio's media sockets go to A; its TwiML requests and status callbacks go to B (so
the prewarmed session B opens cannot be the one A uses); supervisors, operators and
the agent's server-tool webhook talk to B. Then B is killed mid-call, and the balancer
fails over to A; then A gets SIGTERM with a call in progress.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from bin.bench_gateway import GatewayProcess
from gateway.standins.elevenlabs import (
    ConversationRecord,
    ElevenLabsStandIn,
    EndCall,
    Listen,
    Say,
)
from gateway.standins.twilio_records import CallRecord as TwilioCall
from gateway.standins.twilio_standin import TwilioStandIn
from gateway.standins.waiting import poll_until
from tests.integration.e2e import (
    ELEVENLABS_KEY,
    GATEWAY_NUMBER,
    LiveFeed,
    agent_options,
    caller,
    script,
)
from tests.integration.harness import ACCOUNT_SID, AUTH_TOKEN, ORG_A_KEY, ORG_B_KEY
from tests.integration.router import PathRouter
from tests.postgres import PostgresServer
from tests.redis_server import RedisServer
from tests.system_tools import require_tool

#: Two exchanges and a goodbye: long enough to act on the call while it runs.
LONG = script(
    Listen("Yes, speaking."),
    Say("When could you pay?"),
    Listen("I can pay on Friday."),
    Say("Friday it is."),
    Listen("Thank you."),
    EndCall(goodbye="Goodbye.", via="client"),
)
TOOL_SECRET = "tool-secret-for-tests-0001"
CALLER_LINES = ("Yes, speaking.", "I can pay on Friday.", "Thank you.")


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("espeak-ng")


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    server = PostgresServer()
    server.start()
    try:
        yield server.create_database()
    finally:
        server.stop()


@dataclass
class Cluster:
    a: GatewayProcess
    b: GatewayProcess
    router: PathRouter
    agent: ElevenLabsStandIn
    twilio: TwilioStandIn
    redis: RedisServer
    watching: dict[str, int] = dataclasses.field(default_factory=dict)

    def to(self, gateway: GatewayProcess) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=gateway.url, headers={"X-API-Key": ORG_A_KEY})

    async def inbound_call(self, from_: str) -> TwilioCall:
        return await self.twilio.simulate_inbound_call(
            from_,
            GATEWAY_NUMBER,
            f"{self.router.url}/twilio/voice",
            caller=caller(*CALLER_LINES),
            status_callback=f"{self.router.url}/twilio/status",
            status_callback_events=("initiated", "ringing", "answered", "completed"),
        )

    async def streaming(self, sid: str) -> None:
        call = self.twilio.calls[sid]
        # Agent audio reached the caller: the call runs on the gateway.
        await poll_until(
            lambda: call.stream is not None and call.stream.first_media_at is not None, 15
        )

    def conversations(self, sid: str) -> list[ConversationRecord]:
        found = []
        for conv in list(self.agent.conversations.values()):
            init = conv.init or {}
            if init.get("dynamic_variables", {}).get("call_sid") == sid:
                found.append(conv)
        return found

    @asynccontextmanager
    async def live(self, gateway: GatewayProcess, key: str = ORG_A_KEY) -> AsyncIterator[LiveFeed]:
        url = gateway.url.replace("http://", "ws://") + f"/live?api_key={key}"
        org = "org-a" if key == ORG_A_KEY else "org-b"
        self.watching[org] = self.watching.get(org, 0) + 1
        async with connect(url) as ws:
            feed = LiveFeed(ws)
            feed.start()
            await self._processes_listening(org, self.watching[org])
            try:
                yield feed
            finally:
                self.watching[org] -= 1
                await feed.close()

    async def _processes_listening(self, org: str, count: int) -> None:
        """Wait until ``count`` processes receive ``org``'s live channel from Redis."""
        client = aioredis.Redis.from_url(self.redis.url)
        try:
            async with asyncio.timeout(10):
                while (await client.pubsub_numsub(f"parley:live:{org}"))[0][1] < count:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        finally:
            await client.aclose()


@pytest.fixture
async def cluster(
    tmp_path: Path, database_url: str, redis_server: RedisServer
) -> AsyncIterator[Cluster]:
    opts = dataclasses.replace(
        agent_options(), script=LONG, require_auth=True, api_key=ELEVENLABS_KEY
    )
    agent = ElevenLabsStandIn(opts)
    twilio = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN, say_s_per_char=0.005, pause_scale=0.01)
    await agent.start()
    await twilio.start()
    ports: dict[str, int] = {}
    router = PathRouter(lambda path: ports["A"] if path == "/twilio/media" else ports["B"])
    await router.start()
    env = {
        "PARLEY_DATABASE_URL": database_url,
        "PARLEY_REDIS_URL": redis_server.url,
        "PARLEY_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "PARLEY_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PARLEY_ELEVENLABS_AGENT_ID": "agent-test",
        "PARLEY_TWILIO_API_URL": twilio.rest_url,
        "PARLEY_TWILIO_FROM_NUMBER": GATEWAY_NUMBER,
        "PARLEY_ELEVENLABS_WS_URL": agent.ws_url,
        "PARLEY_ELEVENLABS_API_URL": agent.base_url,
        "PARLEY_ELEVENLABS_API_KEY": ELEVENLABS_KEY,
        "PARLEY_API_KEYS": f"org-a:{ORG_A_KEY},org-b:{ORG_B_KEY}",
        "PARLEY_INBOUND_ORG_ID": "org-a",
        "PARLEY_DEFAULT_LANGUAGE": "en",
        "PARLEY_AGENT_CONNECT_TIMEOUT_S": "3",
        "PARLEY_CALL_TTL_S": "2",
        "PARLEY_DRAIN_TIMEOUT_S": "60",
        "PARLEY_LOG_LEVEL": "INFO",
        "PARLEY_TOOL_SECRET": TOOL_SECRET,
    }
    a = GatewayProcess(tmp_path, 0, prewarm=True, name="gw-a", public_url=router.url, extra_env=env)
    b = GatewayProcess(tmp_path, 0, prewarm=True, name="gw-b", public_url=router.url, extra_env=env)
    ports.update(A=a.port, B=b.port)
    try:
        # One after the other: the first one migrates the shared database.
        await asyncio.to_thread(a.start, 60.0)
        await asyncio.to_thread(b.start, 60.0)
        yield Cluster(a, b, router, agent, twilio, redis_server)
    finally:
        await twilio.stop()
        for gateway in (a, b):
            await asyncio.to_thread(gateway.stop)
        await router.stop()
        await agent.stop()
        for gateway in (a, b):
            print(f"--- {gateway.name} log tail ---\n{gateway.log_tail(4000)}")


def ordered(feed: LiveFeed, sid: str) -> list[dict[str, Any]]:
    return [e for e in feed.events if e["call_sid"] == sid]


async def test_a_call_across_two_processes_then_losing_one_then_draining_the_other(
    cluster: Cluster,
) -> None:
    a, b = cluster.a, cluster.b
    # ---- 1. TwiML and status callbacks on B, the media socket on A, supervisors on B.
    async with (
        cluster.live(b) as on_b,
        cluster.live(a) as on_a,
        cluster.live(b, ORG_B_KEY) as other,
    ):
        call = await cluster.inbound_call("+15550201001")
        sid = call.sid
        await cluster.streaming(sid)
        # The agent's server-tool webhook lands on B while the call runs on A.
        async with cluster.to(b) as api_b:
            answer = await api_b.post(
                "/tools/lookup_account",
                json={"call_sid": sid},
                headers={"X-Parley-Tool-Secret": TOOL_SECRET},
            )
        assert answer.status_code == 200 and answer.json()["reason"] == "no_account"
        ended = await cluster.twilio.wait_for_call_end(sid, 40)
        await poll_until(lambda: "call.ended" in on_b.types(sid), 10)
        await poll_until(lambda: "completed" in _statuses(on_b, sid), 10)
        await poll_until(lambda: "completed" in _statuses(on_a, sid), 10)
    seen_b, seen_a = ordered(on_b, sid), ordered(on_a, sid)
    seqs = [e["seq"] for e in seen_b]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] > 0
    assert [(e["seq"], e["type"]) for e in seen_b] == [(e["seq"], e["type"]) for e in seen_a], (
        "a supervisor on B sees exactly what one on A (where the call runs) sees"
    )
    kinds = [e["type"] for e in seen_b]
    for earlier, later in [
        ("stream.started", "agent"),
        ("agent", "caller"),
        ("caller", "call.ended"),
    ]:
        assert kinds.index(earlier) < kinds.index(later), kinds
    assert [e["data"]["text"] for e in seen_b if e["type"] == "caller"] == list(CALLER_LINES)
    webhook = [e for e in seen_b if e["type"] == "tool_call" and e["data"].get("via") == "webhook"]
    assert [e["data"]["name"] for e in webhook] == ["lookup_account"]
    assert kinds.index("stream.started") < seen_b.index(webhook[0]) < kinds.index("call.ended")
    results = [e for e in seen_b if e["type"] == "tool_result"]
    assert any("no_account" in str(e["data"]["result"]) for e in results)
    assert "in-progress" in _statuses(on_b, sid), "status callbacks (on B) reach the same feed"
    assert other.types(sid) == [], "another organization sees none of it"
    assert ended.stream is not None and ended.stream.end_reason in ("stopped", "server-closed")
    # The routes really were split as intended.
    assert ("/twilio/media", a.port) in cluster.router.routed
    assert ("/twilio/voice", b.port) in cluster.router.routed
    # B prewarmed a session at the TwiML request; A could not use it, opened its own,
    # and B closed its one promptly (not after the 30 s prewarm timeout).
    convs = sorted(cluster.conversations(sid), key=lambda c: c.opened_at or 0)
    assert len(convs) == 2, [c.init for c in convs]
    prewarmed, used = convs
    assert prewarmed.closed_by == "client" and prewarmed.closed_at is not None
    assert ended.ended_at is not None and prewarmed.closed_at < ended.ended_at
    assert list(used.user_transcripts) == list(CALLER_LINES)
    # Any process serves the call's record from the shared registry.
    async with cluster.to(b) as api_b:
        record = (await api_b.get(f"/api/calls/{sid}")).json()
    assert record["ended_at"] is not None and record["outcome"] == "completed"

    # ---- 2. An operator on B hangs up a call whose stream runs on A.
    call = await cluster.inbound_call("+15550201002")
    await cluster.streaming(call.sid)
    async with cluster.to(b) as api_b:
        listed = (await api_b.get("/api/calls")).json()["calls"]
        assert call.sid in [c["call_sid"] for c in listed]
        hung = await api_b.post(f"/api/calls/{call.sid}/hangup")
        assert hung.status_code == 202, hung.text
    await cluster.twilio.wait_for_call_end(call.sid, 20)
    async with cluster.to(b) as api_b:
        await _until_ended(api_b, call.sid)
        record = (await api_b.get(f"/api/calls/{call.sid}")).json()
    assert record["end_reason"] == "operator_ended"

    # ---- 3. B dies mid-call: the call on A goes on; the balancer fails over to A.
    call = await cluster.inbound_call("+15550201003")
    await cluster.streaming(call.sid)
    b.send_signal(signal.SIGKILL)
    await asyncio.to_thread(b.wait, 10)
    cluster.router.route = lambda path: a.port
    ended = await cluster.twilio.wait_for_call_end(call.sid, 40)
    assert ended.stream is not None and ended.stream.end_reason in ("stopped", "server-closed")
    used = max(cluster.conversations(call.sid), key=lambda c: c.opened_at or 0)
    assert list(used.user_transcripts) == list(CALLER_LINES), "the whole conversation happened"
    async with cluster.to(a) as api_a:
        await _until_ended(api_a, call.sid)
        record = (await api_a.get(f"/api/calls/{call.sid}")).json()
        assert record["outcome"] == "completed"
        health = await api_a.get("/health")
        assert health.status_code == 200 and health.json()["redis"] == "ok"

    # ---- 4. SIGTERM on A with a call in progress: unready at once, the call finishes.
    call = await cluster.inbound_call("+15550201004")
    await cluster.streaming(call.sid)
    a.send_signal(signal.SIGTERM)
    async with cluster.to(a) as api_a:
        await _until_status(api_a, "/health", 503)
        placed = await api_a.post("/api/calls", json={"account_id": "x"})
        assert placed.status_code == 503 and "draining" in placed.text
    ended = await cluster.twilio.wait_for_call_end(call.sid, 40)
    used = max(cluster.conversations(call.sid), key=lambda c: c.opened_at or 0)
    assert list(used.user_transcripts) == list(CALLER_LINES), "the drained call was not cut"
    assert ended.stream is not None and ended.stream.end_reason in ("stopped", "server-closed")
    try:
        await asyncio.to_thread(a.wait, 30)
    except subprocess.TimeoutExpired:
        pytest.fail("the drained gateway did not exit after its last call")
    assert "gateway.drained" in a.log_tail(20000)


def _statuses(feed: LiveFeed, sid: str) -> list[str]:
    return [
        e["data"]["status"]
        for e in feed.events
        if e["call_sid"] == sid and e["type"] == "call.status"
    ]


async def _until_ended(api: httpx.AsyncClient, sid: str) -> None:
    deadline = time.monotonic() + 15
    while (await api.get(f"/api/calls/{sid}")).json().get("ended_at") is None:
        assert time.monotonic() < deadline, f"call {sid} not ended in the registry"
        await asyncio.sleep(0.05)


async def _until_status(api: httpx.AsyncClient, path: str, status: int) -> None:
    deadline = time.monotonic() + 10
    while (await api.get(path)).status_code != status:
        assert time.monotonic() < deadline, f"{path} never answered {status}"
        await asyncio.sleep(0.02)
