"""``WS /live/calls/{ref}/listen``: a supervisor hears a live call, both sides mixed.

The call itself does no work for a listener: this socket's own task reads what the
call's two-channel recording gained since the last read (:class:`media.live_mix.LiveMix`)
every :data:`READ_EVERY_S`, and sends it as PCM16 (mono, little-endian, 8 kHz), which
the page plays with the Web Audio API. The first message is a JSON text describing the
audio and where on the call's timeline it starts; then only binary messages, until
the call ends (close 1000).

Refused (closed before the upgrade completes) without a key or session, for another
organization's call or one that does not exist, and for a call that is not live on
this gateway process. Each listen is written to the organization's audit log. The key
or session is checked again while the supervisor listens, and the socket closed (1008)
once it no longer holds (:mod:`gateway.live_access`).
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from backoffice import audit
from backoffice.api.auth import principal_of
from backoffice.store.db import Database
from gateway.live_access import CREDENTIALS_LAPSED, LAPSED_REASON, until_lapsed
from gateway.live_pages.pages import find_call
from gateway.services import Services
from media.live_mix import LiveMix

log = structlog.get_logger(__name__)

READ_EVERY_S = 0.15
POLICY_VIOLATION = 1008


async def listen(websocket: WebSocket) -> None:
    db: Database = websocket.app.state.database
    services: Services = websocket.app.state.services
    principal = await principal_of(websocket, db)
    record = (
        await find_call(services, principal.org_id, websocket.path_params["ref"])
        if principal is not None
        else None
    )
    runner = services.runner_for(record) if record is not None else None
    recording = runner.bridge.recording if runner is not None else None
    if principal is None or record is None or runner is None or recording is None:
        await websocket.close(code=POLICY_VIOLATION)
        return
    await websocket.accept()
    async with db.transaction() as conn:
        await audit.record(
            conn,
            org_id=principal.org_id,
            actor=principal.actor,
            action="call.listened",
            entity_type="call",
            entity_id=record.call_sid,
        )
    bound = log.bind(call_sid=record.call_sid, org_id=record.org_id, key_id=principal.key_id)
    bound.info("live.listen_started")
    mix = LiveMix(recording)
    first = mix.position
    header = {
        "format": "pcm_s16le",
        "sample_rate": mix.sample_rate,
        "channels": 1,
        "start_sample": mix.position,
    }
    closed = asyncio.create_task(_wait_closed(websocket))
    recheck_s: float = websocket.app.state.settings.live_recheck_s
    lapsed = asyncio.create_task(until_lapsed(websocket, db, principal, recheck_s))
    try:
        await websocket.send_text(orjson.dumps(header).decode())
        while not closed.done():
            ended = runner.bridge.ended
            chunk = mix.read()
            if chunk:
                await websocket.send_bytes(chunk)
            if ended:
                await websocket.close(code=1000)
                return
            await asyncio.wait({closed, lapsed}, timeout=READ_EVERY_S)
            if lapsed.done():
                bound.info("live.listen_refused_lapsed")
                await websocket.close(code=CREDENTIALS_LAPSED, reason=LAPSED_REASON)
                return
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
    finally:
        closed.cancel()
        lapsed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await closed
        with contextlib.suppress(asyncio.CancelledError):
            await lapsed
        heard_s = (mix.position - first) / mix.sample_rate
        bound.info("live.listen_stopped", seconds=round(heard_s, 1))


async def _wait_closed(websocket: WebSocket) -> None:
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return
