"""Open supervisor sockets end when their credentials do.

A ``WS /live`` feed or a listen-in opened with a key that is then revoked, or with a
session that then signs out, is closed by the gateway (1008) within a few re-checks,
while a supervisor whose credentials still hold goes on receiving.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from backoffice.api.session import SESSION_COOKIE
from config.settings import SettingsError, load_settings
from gateway.live_access import CREDENTIALS_LAPSED
from gateway.standins.elevenlabs import EndCall, Listen, Say
from gateway.standins.waiting import poll_until
from tests.integration.e2e import DEBTOR, caller, e2e, script
from tests.integration.harness import ORG_A_KEY, Gateway, call_sid
from tests.integration.test_live_pages import session
from tests.system_tools import require_tool

RECHECK_S = 0.2


async def new_key(gw: Gateway, role: str = "viewer") -> tuple[str, str]:
    """A key created for organization A through the API: (its id, the key)."""
    created = await gw.http.post(
        "/api/keys", json={"name": "night shift", "role": role}, headers={"X-API-Key": ORG_A_KEY}
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], created.json()["key"]


async def revoke(gw: Gateway, key_id: str) -> None:
    revoked = await gw.http.delete(f"/api/keys/{key_id}", headers={"X-API-Key": ORG_A_KEY})
    assert revoked.status_code == 200, revoked.text


async def closed_code(ws: ClientConnection, timeout_s: float = 5.0) -> int | None:
    """Read until the gateway closes ``ws``; its close code."""

    async def drain() -> None:
        try:
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass

    await asyncio.wait_for(drain(), timeout_s)
    return ws.close_code


async def subscribed(gw: Gateway, count: int) -> None:
    await poll_until(lambda: gw.services.hub.subscriber_count == count, 5)


async def test_revoking_a_key_ends_its_open_live_feed_and_no_other(tmp_path: Path) -> None:
    async with Gateway(tmp_path, live_recheck_s=RECHECK_S) as gw:
        key_id, key = await new_key(gw)
        base = gw.url.replace("http", "ws") + "/live?api_key="
        async with connect(base + key) as leaked, connect(base + ORG_A_KEY) as other:
            await subscribed(gw, 2)
            await asyncio.sleep(3 * RECHECK_S)
            assert leaked.close_code is None  # re-checks pass while the key holds
            await revoke(gw, key_id)
            assert await closed_code(leaked) == CREDENTIALS_LAPSED
            assert leaked.close_reason == "credentials no longer valid"
            # The supervisor whose key still holds goes on receiving events.
            await gw.inbound_call(call_sid(21))
            event = orjson.loads(await asyncio.wait_for(other.recv(), 5))
            assert event["type"] == "call.created" and event["call_sid"] == call_sid(21)
        await subscribed(gw, 0)


async def test_signing_out_ends_the_sessions_open_live_feed(tmp_path: Path) -> None:
    async with Gateway(tmp_path, live_recheck_s=RECHECK_S) as gw:
        cookie, csrf = await session(gw, ORG_A_KEY)
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        url = gw.url.replace("http", "ws") + "/live"
        async with connect(url, additional_headers=headers, origin=Origin(gw.url)) as ws:
            await subscribed(gw, 1)
            out = await gw.http.post("/live/sign-out", data={"csrf": csrf}, headers=headers)
            assert out.status_code == 303
            assert await closed_code(ws) == CREDENTIALS_LAPSED


LONG_CALL = script(
    Listen("Yes, it's me."),
    Say("Thank you. I am calling about the balance of your account with us. " * 6),
    Listen("I can pay next week."),
    EndCall(goodbye="Perfect, thank you. Goodbye.", via="client"),
)


async def test_revoking_a_key_stops_its_listen_in_before_the_call_ends(tmp_path: Path) -> None:
    require_tool("espeak-ng")
    async with e2e(tmp_path, agent_script=LONG_CALL, live_recheck_s=RECHECK_S) as rig:
        key_id, key = await new_key(rig.gw)
        rig.callee(DEBTOR, caller("Yes, it's me.", "I can pay next week."))
        placed = await rig.place_call(opening_mode="agent_first")
        sid = placed["call_sid"]
        await poll_until(lambda: sid in rig.gw.services.runners, 10)
        url = rig.gw.url.replace("http", "ws")
        url += f"/live/calls/{placed['call_ref']}/listen?api_key={key}"
        async with connect(url) as ws:
            header = orjson.loads(await ws.recv())
            assert header["format"] == "pcm_s16le"
            await revoke(rig.gw, key_id)
            assert await closed_code(ws) == CREDENTIALS_LAPSED
        # The call itself went on: the gateway closed only the listener.
        assert sid in rig.gw.services.runners
        assert not rig.gw.services.runners[sid].bridge.ended
        await rig.call_end(sid, timeout_s=60)


@pytest.mark.parametrize("every_s", ["0", "-1", "soon"])
def test_a_recheck_interval_that_is_not_positive_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, every_s: str
) -> None:
    monkeypatch.setenv("PARLEY_LIVE_RECHECK_S", every_s)
    with pytest.raises(SettingsError) as refused:
        load_settings(
            public_url="http://127.0.0.1:8000",
            twilio_account_sid="AC" + "0" * 32,
            twilio_auth_token="token",
            elevenlabs_agent_id="agent",
        )
    assert "PARLEY_LIVE_RECHECK_S" in str(refused.value)
