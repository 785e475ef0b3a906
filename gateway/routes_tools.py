"""``POST /tools/{name}``: the agent's tools as server (webhook) tools.

ElevenLabs calls these from its own servers when the agent is configured with
webhook tools (``parley agent sync --tool-mode webhook``). They run the very same
path as a client tool over the bridge (:class:`~agent_tools.runtime.ToolRuntime`),
so identity rules and exactly-once hold whichever way the agent calls.

Authentication: no request signing is documented for tool webhooks, so the agent is
configured to send a shared secret header, compared in constant time; without a
configured secret every request is refused. Which call it is comes from the body:
the ``call_sid`` dynamic variable parley sends with every conversation, or the
conversation id.

Two body shapes are accepted (the reference notes both): the flat object built from
the tool's ``request_body_schema`` (parameters beside ``call_sid`` /
``conversation_id`` / optional ``tool_call_id``), and an envelope
``{"tool_call_id", "tool_name", "parameters": {...}, "conversation_id"}``. Without a
``tool_call_id``, the ``Idempotency-Key`` header or else a digest of the body is the
key, so a retried webhook does its work once.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backoffice.calls.sessions import CallSession, by_conversation, find_session
from gateway.hub import LiveEvent
from gateway.services import Services

log = structlog.get_logger(__name__)

SECRET_HEADER = "x-parley-tool-secret"  # noqa: S105 - a header name
MAX_BODY = 64 * 1024
_CALL_KEYS = ("call_sid", "conversation_id", "tool_call_id", "tool_name", "parameters")


def _authorised(services: Services, request: Request) -> bool:
    secret = services.settings.tool_secret
    if secret is None or not secret.get_secret_value():
        return False
    presented = request.headers.get(SECRET_HEADER, "")
    return hmac.compare_digest(presented.encode(), secret.get_secret_value().encode())


def _unpack(body: dict[str, Any]) -> tuple[dict[str, Any], str, str, str | None]:
    """``(parameters, call_sid, conversation_id, tool_call_id)`` from either shape."""
    call_sid = str(body.get("call_sid") or "")
    conversation_id = str(body.get("conversation_id") or "")
    tool_call_id = body.get("tool_call_id")
    nested = body.get("parameters")
    if isinstance(nested, dict):
        parameters = dict(nested)
        call_sid = call_sid or str(parameters.pop("call_sid", "") or "")
        conversation_id = conversation_id or str(parameters.pop("conversation_id", "") or "")
    else:
        parameters = {k: v for k, v in body.items() if k not in _CALL_KEYS}
    return parameters, call_sid, conversation_id, str(tool_call_id) if tool_call_id else None


async def tool_webhook(request: Request) -> Response:
    services: Services = request.app.state.services
    name = request.path_params["name"]
    if not _authorised(services, request):
        services.metrics.refused.labels("tool_webhook").inc()
        log.warning("tool.webhook_refused", tool=name[:64])
        return JSONResponse({"error": "missing or wrong tool secret"}, status_code=401)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return JSONResponse({"error": "body: too large"}, status_code=413)
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        return JSONResponse({"error": "body: not JSON"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"error": "body: must be a JSON object"}, status_code=400)
    parameters, call_sid, conversation_id, tool_call_id = _unpack(body)
    session = await _session(services, call_sid, conversation_id)
    if session is None:
        return JSONResponse(
            {"error": "call_sid: no such call (send the call_sid dynamic variable)"},
            status_code=404,
        )
    key = (
        tool_call_id
        or request.headers.get("idempotency-key")
        or "body-" + hashlib.sha256(name.encode() + b"\0" + raw).hexdigest()[:40]
    )
    live = _Live(services, session)
    live.publish("tool_call", tool_call_id=key, name=name, parameters=parameters, via="webhook")
    result = await services.tool_runtime.run(
        name,
        parameters,
        org_id=session.org_id,
        call_sid=session.call_sid,
        tool_call_id=key,
    )
    live.publish("tool_result", tool_call_id=key, result=result.text, is_error=result.is_error)
    runner = services.runners.get(session.call_sid)
    if runner is not None and not result.is_error:
        if result.transfer is not None:
            runner.transfer(result.transfer.number, result.transfer.brief)
        elif result.end_call:
            runner.end_after_speech()
    # Always 200 with the result: a failure the agent must hear about is a result too
    # (a non-2xx would reach the agent as a bare "tool failed").
    return Response(result.text, media_type=_media_type(result.text))


def _media_type(text: str) -> str:
    return "application/json" if text.startswith("{") else "text/plain; charset=utf-8"


async def _session(services: Services, call_sid: str, conversation_id: str) -> CallSession | None:
    if call_sid:
        return await find_session(services.database, call_sid)
    if conversation_id:
        async with services.database.read() as conn:
            return await by_conversation(conn, conversation_id)
    return None


class _Live:
    def __init__(self, services: Services, session: CallSession) -> None:
        self.services = services
        self.session = session

    def publish(self, kind: str, **data: Any) -> None:
        self.services.publish(LiveEvent(self.session.org_id, self.session.call_sid, kind, data))
