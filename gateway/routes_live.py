"""``WS /live``: the live events of an organization's calls, for supervisors.

Authenticated like the operator API (any role); a supervisor only ever receives
events of their own organization, optionally narrowed to one call with
``?call_sid=``.
"""

from __future__ import annotations

import asyncio

from starlette.websockets import WebSocket, WebSocketDisconnect

from backoffice.api.auth import principal_of
from gateway.services import Services


async def live(websocket: WebSocket) -> None:
    principal = await principal_of(websocket, websocket.app.state.database)
    if principal is None:
        await websocket.close(code=1008)
        return
    services: Services = websocket.app.state.services
    call_sid = websocket.query_params.get("call_sid") or None
    await websocket.accept()
    subscription = services.hub.subscribe(principal.org_id, call_sid)
    closed = asyncio.create_task(_wait_closed(websocket))
    try:
        while True:
            nxt = asyncio.create_task(subscription.next())
            done, _ = await asyncio.wait({nxt, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                nxt.cancel()
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


async def _wait_closed(websocket: WebSocket) -> None:
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return
