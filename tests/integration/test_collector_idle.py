"""The gateway runs its full garbage collection when its last call has ended, never
while another call is still up (a full collection pauses every call of the process)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.gc_policy import CollectorPolicy
from gateway.standins.elevenlabs import Listen, Say
from gateway.standins.waiting import poll_until
from tests.integration.e2e import caller, e2e, script
from tests.system_tools import require_tool


@pytest.mark.timeout(60)
async def test_full_collection_waits_for_the_last_call(tmp_path: Path) -> None:
    require_tool("espeak-ng")
    agent = script(Say("Hello."), Listen("Bye."))
    async with e2e(tmp_path, agent_script=agent) as rig:
        services = rig.gw.services
        collections: list[int] = []
        # The policy's own collect is gc.collect; counting stands for it here (a real
        # one in the test process would walk every test's objects).
        services.collector = CollectorPolicy(
            collect=lambda: collections.append(len(services.runners)), idle_delay_s=0.05
        )
        rig.callee("+15550400001", caller(hangup_after_s=0.3), ring_s=0.02, amd_duration_ms=50)
        rig.callee("+15550400002", caller(hangup_after_s=2.5), ring_s=0.02, amd_duration_ms=50)
        short, long = await asyncio.gather(
            *(
                rig.place_call(number, opening_mode="callee_first", account_id=account)
                for number, account in (("+15550400001", "S-1"), ("+15550400002", "L-1"))
            )
        )
        await rig.call_end(short["call_sid"], timeout_s=20)
        await poll_until(lambda: len(services.runners) == 1, 10)
        await asyncio.sleep(0.1)
        assert collections == []  # the long call is still up: no pause for it
        await rig.call_end(long["call_sid"], timeout_s=20)
        await poll_until(lambda: collections != [], 10)
        assert collections == [0]  # once, with no call left
