"""What a supervisor's ``WS /live`` feed shows when events pile up faster than it reads.

Events that arrive together are all delivered, in order; a supervisor who falls so
far behind that the hub drops some of their events is told how many they missed,
before the events after the gap, and one who keeps up is never told anything of the
kind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from gateway.hub import LiveEvent
from gateway.standins.waiting import poll_until
from tests.integration.harness import ORG_A_KEY, ORG_B_KEY, Gateway, call_sid

HUB_QUEUE = 1000  # InProcessBus's queue per subscriber


async def received(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [orjson.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(count)]


def burst(gw: Gateway, org_id: str, count: int) -> None:
    """``count`` transcript lines of one call, published with no await in between:
    the supervisor's socket cannot read any of them before the last is published."""
    for n in range(count):
        gw.services.publish(LiveEvent(org_id, call_sid(31), "transcript.caller", {"n": n}))


async def test_a_burst_of_events_reaches_the_supervisor_whole_and_in_order(
    tmp_path: Path,
) -> None:
    async with Gateway(tmp_path) as gw:
        url = gw.url.replace("http", "ws") + "/live?api_key=" + ORG_A_KEY
        async with connect(url) as ws:
            await poll_until(lambda: gw.services.hub.subscriber_count == 1, 5)
            burst(gw, "org-a", 300)
            events = await received(ws, 300)
            assert [e["data"]["n"] for e in events] == list(range(300))
            assert {e["type"] for e in events} == {"transcript.caller"}
            burst(gw, "org-a", 1)  # and the feed goes on after the burst
            (after,) = await received(ws, 1)
            assert after["data"] == {"n": 0}


async def test_a_supervisor_who_falls_behind_is_told_what_they_missed_before_the_rest(
    tmp_path: Path,
) -> None:
    async with Gateway(tmp_path) as gw:
        base = gw.url.replace("http", "ws") + "/live?api_key="
        async with connect(base + ORG_A_KEY) as behind, connect(base + ORG_B_KEY) as other:
            await poll_until(lambda: gw.services.hub.subscriber_count == 2, 5)
            burst(gw, "org-a", HUB_QUEUE + 250)
            lagged, *rest = await received(behind, 1 + HUB_QUEUE)
            assert lagged["type"] == "lagged"
            assert lagged["data"] == {"missed": 250}
            # The oldest were dropped; what follows the notice is the newest, in order.
            assert [e["data"]["n"] for e in rest] == list(range(250, HUB_QUEUE + 250))
            burst(gw, "org-a", 1)
            (next_one,) = await received(behind, 1)
            assert next_one["type"] == "transcript.caller", "the notice is given once per gap"
            # Another organization's supervisor saw none of it, and no notice either.
            burst(gw, "org-b", 1)
            (own,) = await received(other, 1)
            assert own["type"] == "transcript.caller" and own["data"] == {"n": 0}
