"""``WS /live``: the live events of an organization's calls, for supervisors.

Authenticated like the operator API (any role; the browser pages use their
session cookie); a supervisor only ever receives events of their own organization,
optionally narrowed to one call with ``?call_sid=``. With ``?history=1`` the socket
first sends what came before (the call's events so far, or a ``call.snapshot`` of each
active call), then one ``history.end``, then live events as they happen. The socket's
key or session is checked again while it streams, and the socket closed (1008) once
it no longer holds (:mod:`gateway.live_access`).

Events that piled up while the socket was busy go out together, in one write: with
many calls and supervisors, one wake-up and one system call per event per supervisor
was the cost of watching. A supervisor who fell so far behind that the hub dropped
some of their events gets a ``lagged`` event (``{"missed": n}``) before the events
after the gap, so the page knows to resynchronize rather than show a partial picture.
"""

from __future__ import annotations

import asyncio
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from backoffice.api.auth import principal_of
from gateway.hub import LiveEvent
from gateway.live_access import CREDENTIALS_LAPSED, LAPSED_REASON, until_lapsed
from gateway.outbox import Outbox
from gateway.services import Services
from gateway.ws_server import WRITE_TEXT


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
    # Either watcher ends the feed by closing the subscription, which wakes the loop.
    closed = asyncio.create_task(_wait_closed(websocket))
    recheck_s: float = websocket.app.state.settings.live_recheck_s
    lapsed = asyncio.create_task(until_lapsed(websocket, db, principal, recheck_s))
    for watcher in (closed, lapsed):
        watcher.add_done_callback(lambda _: subscription.close())
    # The write extension (gateway/ws_server.py) sends a batch in one write.
    extensions = websocket.scope.get("extensions") or {}
    out = Outbox(
        write_now=extensions.get(WRITE_TEXT),
        send_one=websocket.send_text,
        is_open=lambda: not closed.done(),
        spawn=services.spawn,
        name="to-supervisor",
    )

    try:
        if history:
            end = LiveEvent(
                principal.org_id, call_sid or "", "history.end", {"server_time": time.time()}
            )
            await out.write([past.to_json() for past in backlog] + [end.to_json()])
        reported_lag = 0
        while events := await subscription.take():
            if closed.done() or lapsed.done():
                break
            texts = [event.to_json() for event in events]
            if subscription.lagged > reported_lag:
                missed = subscription.lagged - reported_lag
                reported_lag = subscription.lagged
                texts.insert(0, _lagged(principal.org_id, call_sid, missed).to_json())
            await out.write(texts)
        if lapsed.done() and not lapsed.cancelled() and not closed.done():
            await websocket.close(code=CREDENTIALS_LAPSED, reason=LAPSED_REASON)
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
    finally:
        services.hub.unsubscribe(subscription)
        closed.cancel()
        lapsed.cancel()


def _lagged(org_id: str, call_sid: str | None, missed: int) -> LiveEvent:
    """Said before the events that follow a gap: the page resynchronizes on it."""
    return LiveEvent(org_id, call_sid or "", "lagged", {"missed": missed})


async def _wait_closed(websocket: WebSocket) -> None:
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return
