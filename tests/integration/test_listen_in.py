"""Listen in: a supervisor hears exactly the call's audio, and the call does not notice.

A whole stand-in call runs with a listener attached from its first seconds; what the
listener received is compared, sample for sample, with the call's own recording
mixed down, and what each peer witnessed is checked for loss.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.call_runner import CallRunner
from gateway.standins.elevenlabs import EndCall, Listen, Say
from gateway.standins.waiting import poll_until
from media.live_mix import mix_channels
from tests.integration.e2e import DEBTOR, E2E, caller, e2e, script
from tests.integration.harness import ORG_A_KEY
from tests.system_tools import require_tool

AGENT = script(
    Listen("Yes, it's me."),
    Say("Thank you. I am calling about the balance of your account with us."),
    Listen("I can pay next week."),
    EndCall(goodbye="Perfect, thank you. Goodbye.", via="client"),
)


@pytest.fixture(autouse=True)
def _espeak() -> None:
    require_tool("espeak-ng")


async def runner_of(rig: E2E, sid: str) -> CallRunner:
    runners = rig.gw.services.runners
    await poll_until(lambda: sid in runners, 10)
    return runners[sid]


async def listen(rig: E2E, ref: str) -> tuple[dict[str, Any], bytes, int | None]:
    """Everything one listener receives until the gateway closes the socket."""
    url = rig.gw.url.replace("http", "ws") + f"/live/calls/{ref}/listen?api_key={ORG_A_KEY}"
    audio = bytearray()
    async with connect(url) as ws:
        header = orjson.loads(await ws.recv())
        try:
            async for message in ws:
                assert isinstance(message, bytes)
                audio += message
        except ConnectionClosed:
            pass
        code = ws.close_code
    return header, bytes(audio), code


async def test_the_listener_hears_the_calls_audio_and_the_call_loses_nothing(
    tmp_path: Path,
) -> None:
    async with e2e(tmp_path, agent_script=AGENT) as rig:
        rig.callee(DEBTOR, caller("Yes, it's me.", "I can pay next week."))
        placed = await rig.place_call(opening_mode="agent_first")
        sid = placed["call_sid"]
        runner = await runner_of(rig, sid)
        listener = asyncio.create_task(listen(rig, placed["call_ref"]))
        twilio_call = await rig.call_end(sid, timeout_s=30)
        header, audio, close_code = await asyncio.wait_for(listener, 10)
        conv = await rig.conversation_of(sid)
        await conv.wait_closed(2.0)
        stream = twilio_call.stream
        assert stream is not None
        bridge = runner.bridge
        assert bridge.recording is not None

        # What the listener heard is the recording, mixed, from where it joined.
        assert header["format"] == "pcm_s16le"
        assert (header["sample_rate"], header["channels"]) == (8000, 1)
        assert close_code == 1000  # the call ended, the gateway said goodbye
        start = header["start_sample"]
        heard = np.frombuffer(audio, dtype="<i2")
        expected = mix_channels(bridge.recording.render())
        assert len(heard) > 8000 * 3, "the listener got less than three seconds"
        assert np.array_equal(heard, expected[start : start + len(heard)])
        # ... up to the end of the call, give or take the caller's last frame.
        assert len(expected) - (start + len(heard)) <= 2 * 160 + 8000 * 0.2
        caller_side = bridge.recording.render()[start : start + len(heard), 0]
        agent_side = bridge.recording.render()[start : start + len(heard), 1]
        assert np.abs(caller_side).max() > 1000 and np.abs(agent_side).max() > 1000

        # The call lost nothing: every caller frame reached the agent, every agent
        # frame reached the caller, nothing was dropped or misread on the way.
        assert bridge.frames_in == stream.frames_sent
        assert conv.audio_chunks_received == bridge.frames_to_agent
        assert bridge.caller_frames_dropped == 0
        assert bridge.stale_audio_dropped == 0 and bridge.protocol_errors == 0
        sent = sum(turn.audio_bytes_sent for turn in conv.agent_turns)
        assert sent <= len(stream.played) <= sent + 160 * len(conv.agent_turns)
        assert bridge.playout.frames_dropped == 0
        assert (await rig.ended_call(placed["call_ref"]))["outcome"] == "completed"
