"""Agent audio paced by the runner's timer alone, through both write paths.

When the caller is silent (no inbound frame to drive the releases), every release
after the first comes from the runner's timer. The timer drains the bridge in its own
callback and writes with the server's write extension; without that extension the
very same frames go through ASGI ``send``. Either way the caller hears every frame,
in order, each batch followed by its mark.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import MutableMapping
from types import SimpleNamespace
from typing import Any

import pytest

from gateway import agent_events as ae
from gateway import twilio_events as te
from gateway.bridge import CallBridge
from gateway.call_runner import CallRunner
from gateway.hub import LiveEvent
from gateway.metrics import GatewayMetrics
from gateway.standins.waiting import poll_until
from tests.gateway.bridge_helpers import (
    APOLOGY_MESSAGE,
    CONVERSATION_ID,
    INFO,
    VOICEMAIL_MESSAGE,
    b64,
    tag_of,
    tagged,
    twilio_start,
)

FRAMES = 40  # 800 ms: several times the playout's lead, so most of it waits for the timer


def media_tags(texts: list[str]) -> list[int]:
    return [
        tag_of(base64.b64decode(msg["media"]["payload"]))
        for msg in map(json.loads, texts)
        if msg["event"] == "media"
    ]


async def paced_call(*, write_extension: bool) -> tuple[list[str], list[LiveEvent]]:
    """One silent caller and one agent response; what went to Twilio, and the events."""
    written: list[str] = []
    published: list[LiveEvent] = []

    def write_now(texts: list[str]) -> bool:
        written.extend(texts)
        return True

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "websocket.send":
            written.append(message["text"])

    services = SimpleNamespace(metrics=GatewayMetrics(dict), publish=published.append)
    record = SimpleNamespace(call_sid=INFO.call_sid, org_id=INFO.org_id, account_id="acct_42")
    bridge = CallBridge(INFO, voicemail_message=VOICEMAIL_MESSAGE, apology_message=APOLOGY_MESSAGE)
    loop = asyncio.get_running_loop()
    start = te.parse(twilio_start())
    assert isinstance(start, te.Start)
    bridge.start(start, loop.time())
    metadata = ae.InitiationMetadata(CONVERSATION_ID, "ulaw_8000", "ulaw_8000")
    bridge.agent_event(metadata, loop.time())
    bridge.take_twilio(), bridge.take_agent(), bridge.take_effects()
    runner = CallRunner(
        services,  # type: ignore[arg-type]
        record,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        bridge,
        send,
        write_now if write_extension else None,
    )
    runner.agent_event_now(ae.Audio(b64(tagged(*range(1, FRAMES + 1))), event_id=1))
    await poll_until(lambda: len(media_tags(written)) == FRAMES, 10)
    await poll_until(lambda: not runner._tasks, 5)
    return written, published


@pytest.mark.parametrize("write_extension", [True, False], ids=["write-now", "asgi-send"])
async def test_timer_releases_the_whole_response_in_order_with_a_mark_per_batch(
    write_extension: bool,
) -> None:
    written, published = await paced_call(write_extension=write_extension)
    assert media_tags(written) == list(range(1, FRAMES + 1))
    events = [json.loads(text)["event"] for text in written]
    assert events[-1] == "mark"
    batches = "".join("m" if e == "media" else "k" for e in events).split("k")[:-1]
    assert all(batches), f"a mark without audio before it: {events}"
    assert len(batches) > 1  # no caller frame came: every batch after the first was the timer's
    assert [e.type for e in published] == ["speaker"]


async def test_both_write_paths_send_the_same_frames() -> None:
    fast, _ = await paced_call(write_extension=True)
    plain, _ = await paced_call(write_extension=False)
    assert media_tags(fast) == media_tags(plain)
    media = [t for t in fast if json.loads(t)["event"] == "media"]
    assert media == [t for t in plain if json.loads(t)["event"] == "media"]
