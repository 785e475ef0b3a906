"""``WS /twilio/media``: Twilio's end of the bridge, as a small pure-ASGI endpoint.

The upgrade is refused (HTTP 403) unless it carries a valid Twilio signature for our
public stream URL. After ``connected``, the ``start`` message must name a call we know
and carry that call's one-time stream token; anything else closes the socket with
1008 and touches no other call.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from starlette.types import Receive, Scope, Send

from gateway import twilio_events as te
from gateway.bridge import BridgeTimings, CallBridge, CallInfo
from gateway.call_runner import MAX_TWILIO_FRAME, CallRunner
from gateway.calls import CallRecord
from gateway.protocol_error import ProtocolError
from gateway.redis_link import RedisUnavailable
from gateway.routes_twilio import context_for
from gateway.services import Services
from gateway.twilio_signature import SIGNATURE_HEADER
from gateway.ws_server import READ_TEXT, WRITE_TEXT
from media.recording import CallRecording

log = structlog.get_logger(__name__)

START_TIMEOUT_S = 10.0
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


class MediaSocket:
    """Pure-ASGI endpoint (Starlette passes ASGI callables that are not functions as is)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await media_socket(scope, receive, send)


async def media_socket(scope: Scope, receive: Receive, send: Send) -> None:
    services: Services = scope["app"].state.services
    headers = dict(scope.get("headers", []))
    signature = headers.get(SIGNATURE_HEADER.encode(), b"").decode("latin-1")
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if not services.signatures.valid_media_upgrade(signature):
        services.metrics.refused.labels("media").inc()
        log.warning("twilio.media_signature_refused", signature_present=bool(signature))
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        return
    await send({"type": "websocket.accept"})
    # Counted from here, so a gateway that drains waits for a stream still starting.
    services.media_sockets += 1
    try:
        await _serve_stream(services, scope, receive, send)
    finally:
        services.media_sockets -= 1
        services.stream_closed()


async def _serve_stream(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        start = await asyncio.wait_for(_await_start(receive, services), START_TIMEOUT_S)
    except TimeoutError:
        start = None
    if start is None:
        await _close(send)
        return
    token = start.custom_parameters.get("stream_token", "")
    try:
        record = await _redeem(services, start.call_sid, token)
    except RedisUnavailable:
        log.error("twilio.stream_registry_unavailable", call_sid=start.call_sid[:64])
        services.prewarm.discard(start.call_sid)
        await _close(send, TRY_AGAIN_LATER)
        return
    if record is None:
        services.metrics.refused.labels("media_start").inc()
        log.warning("twilio.stream_refused", call_sid=start.call_sid[:64])
        services.prewarm.discard(start.call_sid)
        await _close(send)
        return
    settings = services.settings
    bridge = CallBridge(
        CallInfo(record.call_sid, record.org_id, record.account_id, record.direction),
        voicemail_message=settings.voicemail_message,
        apology_message=settings.apology_message,
        recording=CallRecording(),
        timings=BridgeTimings(end_max_wait_s=settings.end_call_max_wait_s),
    )
    extensions = scope.get("extensions") or {}
    runner = CallRunner(
        services,
        record,
        context_for(record),
        bridge,
        send,
        extensions.get(WRITE_TEXT),
        extensions.get(READ_TEXT),
    )
    agent_task = services.prewarm.claim(record.call_sid)
    if agent_task is None and record.prewarm_on and record.prewarm_on != services.gateway_id:
        # The TwiML request was answered by another process, which holds a session for
        # this call that we cannot use: the runner opens its own, and that one is closed.
        services.spawn(_discard_remote_prewarm(services, record), "prewarm-handover")
    await runner.run(start, receive, agent_task)


async def _redeem(services: Services, call_sid: str, token: str) -> CallRecord | None:
    """Redeem the stream token, riding out a Redis blip of up to a second or so."""
    for delay in (0.1, 0.3, 0.6):
        try:
            return await services.calls.redeem_stream_token(call_sid, token)
        except RedisUnavailable:
            await asyncio.sleep(delay)
    return await services.calls.redeem_stream_token(call_sid, token)


async def _discard_remote_prewarm(services: Services, record: CallRecord) -> None:
    services.metrics.prewarm_elsewhere.inc()
    await services.retrying("prewarm.discard", lambda: services.control.discard_prewarm(record))


async def _await_start(receive: Receive, services: Services) -> te.Start | None:
    """Read until ``start``; ``connected`` is expected first, anything else is refused."""
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return None
        text = message.get("text")
        if text is None or len(text) > MAX_TWILIO_FRAME:
            services.metrics.protocol_errors.labels("twilio").inc()
            return None
        try:
            event = te.parse(text)
        except ProtocolError as exc:
            services.metrics.protocol_errors.labels("twilio").inc()
            log.warning("twilio.bad_frame_before_start", field=exc.field, reason=exc.reason)
            return None
        if isinstance(event, te.Start):
            return event
        if not isinstance(event, te.Connected):
            return None


async def _close(send: Send, code: int = POLICY_VIOLATION) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        await send({"type": "websocket.close", "code": code})
