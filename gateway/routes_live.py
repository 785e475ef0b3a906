"""``WS /live``: the live events of an organization's calls, for supervisors.

Authenticated like the operator API (any role; the browser pages use their
session cookie); a supervisor only ever receives events of their own organization,
optionally narrowed to one call with ``?call_sid=``. With ``?history=1`` the socket
first sends what came before (the call's events so far, or a ``call.snapshot`` of each
active call), then one ``history.end``, then live events as they happen. The socket's
key or session is checked again while it streams, and the socket closed (1008) once
it no longer holds (:mod:`gateway.live_access`).
"""

from __future__ import annotations

import asyncio
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from backoffice.api.auth import principal_of
from gateway.hub import LiveEvent
from gateway.live_access import CREDENTIALS_LAPSED, LAPSED_REASON, until_lapsed
from gateway.services import Services


async def live(websocket: WebSocket) -> None:
    db = websocket.app.state.database
    principal = await principal_of(websocket, db)
    if principal is None:
        await websocket.close(code=1008)
        return
    services: Services = websocket.app.state.services
    call_sid = websocket.query_params.get("call_sid") or None
    history = websocket.query_params.get("history") == "1"
    await websocket.accept()
    active = await services.calls.active(principal.org_id) if history and not call_sid else []
    subscription = services.hub.subscribe(principal.org_id, call_sid)
    backlog = services.live_backlog(principal.org_id, call_sid, active) if history else []
    closed = asyncio.create_task(_wait_closed(websocket))
    recheck_s: float = websocket.app.state.settings.live_recheck_s
    lapsed = asyncio.create_task(until_lapsed(websocket, db, principal, recheck_s))
    try:
        if history:
            for past in backlog:
                await websocket.send_text(past.to_json())
            end = LiveEvent(
                principal.org_id, call_sid or "", "history.end", {"server_time": time.time()}
            )
            await websocket.send_text(end.to_json())
        while True:
            nxt = asyncio.create_task(subscription.next())
            done, _ = await asyncio.wait({nxt, closed, lapsed}, return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                nxt.cancel()
                return
            if lapsed in done:
                nxt.cancel()
                await websocket.close(code=CREDENTIALS_LAPSED, reason=LAPSED_REASON)
                return
            event = nxt.result()
            if event is None:
                return
            await websocket.send_text(event.to_json())
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
    finally:
        services.hub.unsubscribe(subscription)
        closed.cancel()
        lapsed.cancel()


async def _wait_closed(websocket: WebSocket) -> None:
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return
