"""A hundred calls in a row leave nothing behind: no runner, no prewarmed session, no
open socket on either peer, no stray task in the event loop."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from gateway.standins.elevenlabs import EndCall, Listen, Say, Script
from gateway.standins.elevenlabs.wire import InitiationData
from gateway.standins.waiting import poll_until
from tests.integration.e2e import E2E, caller, e2e, script
from tests.system_tools import require_tool

CALLS = 100
AT_ONCE = 10


#: The Twilio stand-in's REST server (aiohttp) keeps a task per keep-alive connection
#: of the gateway's Twilio client pool; pooled connections are meant to stay.
KEEP_ALIVE = frozenset({"RequestHandler.start"})


def _task_names() -> Counter[str]:
    names = (
        getattr(task.get_coro(), "__qualname__", task.get_name()) for task in asyncio.all_tasks()
    )
    return Counter(name for name in names if name not in KEEP_ALIVE)


#: Even calls: the agent says one line and ends the call with the client ``end_call``
#: tool. Odd calls: the agent greets and listens, and the caller hangs up.
AGENT_ENDS = script(EndCall(goodbye="Goodbye.", via="client"))
CALLER_ENDS = script(Say("Hello."), Listen("Bye."))


def _choose(init: InitiationData) -> Script:
    return AGENT_ENDS if init.dynamic_variables.get("scenario") == "agent_ends" else CALLER_ENDS


async def _one_call(rig: E2E, n: int) -> tuple[str, str]:
    number = f"+1555030{n:04d}"
    if n % 2:
        rig.callee(number, caller(hangup_after_s=0.3), ring_s=0.02, amd_duration_ms=50)
    else:
        rig.callee(number, caller(), ring_s=0.02, amd_duration_ms=50)
    account = f"{'H' if n % 2 else 'E'}-{n}"
    scenario = "caller_ends" if n % 2 else "agent_ends"
    placed = await rig.place_call(
        number,
        opening_mode="callee_first",
        account_id=account,
        variables={"debtor_first_name": "Ann", "scenario": scenario},
    )
    await rig.call_end(placed["call_sid"], timeout_s=30)
    record = await rig.ended_call(placed["call_ref"])
    return placed["call_sid"], str(record["outcome"])


@pytest.mark.timeout(120)
async def test_a_hundred_calls_leave_nothing_behind(tmp_path: Path) -> None:
    require_tool("espeak-ng")
    async with e2e(tmp_path, agent_script=_choose) as rig:
        services = rig.gw.services
        await _one_call(rig, 0)  # warm up: connection pools, caches, lazy imports
        await rig.idle()
        await poll_until(lambda: not services._background, 5)
        before = _task_names()

        gate = asyncio.Semaphore(AT_ONCE)

        async def limited(n: int) -> tuple[str, str]:
            async with gate:
                return await _one_call(rig, n)

        results = await asyncio.gather(*(limited(n) for n in range(1, CALLS + 1)))

        outcomes = Counter(outcome for _, outcome in results)
        assert outcomes == {"completed": CALLS // 2, "caller_hung_up": CALLS // 2}, outcomes
        ended_by_caller = {sid for sid, outcome in results if outcome == "caller_hung_up"}
        assert all(rig.twilio.calls[sid].end_reason == "caller-hangup" for sid in ended_by_caller)
        await rig.idle()
        assert services.runners == {}
        assert len(services.prewarm) == 0
        assert services.prewarm.expired == 0
        convs = list(rig.agent.conversations.values())
        assert len(convs) == CALLS + 1
        await poll_until(lambda: all(c.closed.is_set() for c in convs), 5)
        assert {c.closed_by for c in convs} == {"client"}
        calls = list(rig.twilio.calls.values())
        assert all(c.ended.is_set() for c in calls)
        assert all(c.stream is not None and c.stream.ended_at is not None for c in calls)
        # Every task a call started has finished: the loop is back to where it was.
        try:
            await poll_until(lambda: not _task_names() - before, 5)
        except TimeoutError:
            pytest.fail(f"tasks left behind: {_task_names() - before}")
        assert services.hub.subscriber_count == 0
