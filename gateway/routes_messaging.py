"""Messaging webhooks: Twilio message status and inbound messages, Resend events.

Every request is authenticated before anything is read into the store: Twilio's
``X-Twilio-Signature`` with the SDK's ``RequestValidator`` over the public URL
(``PARLEY_PUBLIC_URL`` + path + query, as for voice), keyed with the auth token of
the account that sent it; Resend's Svix signature with the resend SDK's verifier
(which also refuses a timestamp more than 5 minutes off: replays). Which token or
secret applies is the backoffice's answer (``backoffice.messaging.webhooks``).
A refusal is 403 (Twilio) or 401 (Resend), logged and counted, and changes nothing.
"""

from __future__ import annotations

import orjson
import resend
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from twilio.request_validator import RequestValidator

from backoffice.messaging import webhooks
from backoffice.messaging.providers import Messaging
from backoffice.store.db import Database
from gateway.services import Services
from gateway.twilio_signature import SIGNATURE_HEADER

log = structlog.get_logger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _parts(request: Request) -> tuple[Services, Database, Messaging]:
    return request.app.state.services, request.app.state.database, request.app.state.messaging


def _refuse(services: Services, route: str, status: int, why: str, **facts: object) -> Response:
    services.metrics.refused.labels(route).inc()
    log.warning("webhook.refused", route=route, why=why, **facts)
    return PlainTextResponse("invalid signature", status_code=status)


async def _checked_twilio_form(
    request: Request, route: str, receiving_field: str | None
) -> tuple[webhooks.WebhookKey, dict[str, str]] | Response:
    services, db, messaging = _parts(request)
    form = await request.form()
    params = {k: str(v) for k, v in form.multi_items()}
    key = await webhooks.twilio_key(
        db,
        messaging,
        org_hint=request.query_params.get("org"),
        receiving=params.get(receiving_field) if receiving_field else None,
    )
    signature = request.headers.get(SIGNATURE_HEADER, "")
    url = services.signatures.public_url(request.url.path, request.url.query)
    valid = bool(
        signature and key.secret and RequestValidator(key.secret).validate(url, form, signature)
    )
    if not valid:
        return _refuse(
            services,
            route,
            403,
            "twilio signature",
            message_sid=params.get("MessageSid", "")[:64],
            org_id=key.org_id,
            signature_present=bool(signature),
        )
    return key, params


async def message_status(request: Request) -> Response:
    """``POST /twilio/messages/status``: a delivery report (any order, any repeat)."""
    checked = await _checked_twilio_form(request, "messages-status", None)
    if isinstance(checked, Response):
        return checked
    key, params = checked
    _, db, _ = _parts(request)
    applied = await webhooks.on_twilio_status(db, key, params, request.query_params.get("message"))
    log.info(
        "twilio.message_status",
        org_id=key.org_id,
        message_id=applied.message_id,
        reported=params.get("MessageStatus"),
        outcome=applied.outcome,
    )
    return Response(status_code=204)


async def message_inbound(request: Request) -> Response:
    """``POST /twilio/messages/inbound``: a debtor's SMS or WhatsApp message."""
    checked = await _checked_twilio_form(request, "messages-inbound", "To")
    if isinstance(checked, Response):
        return checked
    key, params = checked
    _, db, messaging = _parts(request)
    reply = await webhooks.on_twilio_inbound(db, key, params, at=messaging.clock())
    if reply is None:
        log.warning("twilio.inbound_unclaimed", to=params.get("To", "")[:40])
    return Response(EMPTY_TWIML, media_type="application/xml")


async def resend_events(request: Request) -> Response:
    """``POST /resend/events``: Resend's webhook events, Svix-signed."""
    services, db, messaging = _parts(request)
    raw = (await request.body()).decode("utf-8", errors="replace")
    headers = {
        "id": request.headers.get("svix-id", ""),
        "timestamp": request.headers.get("svix-timestamp", ""),
        "signature": request.headers.get("svix-signature", ""),
    }
    key = await webhooks.resend_key(db, messaging, org_hint=request.query_params.get("org"))
    if not key.secret:
        return _refuse(services, "resend-events", 401, "no signing secret configured")
    try:
        resend.Webhooks.verify(
            {"payload": raw, "headers": headers, "webhook_secret": key.secret}  # type: ignore[typeddict-item]
        )
    except ValueError as exc:
        return _refuse(services, "resend-events", 401, str(exc)[:120], svix_id=headers["id"][:64])
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return JSONResponse({"error": "body is not JSON"}, status_code=400)
    if not isinstance(payload, dict):
        return JSONResponse({"error": "body is not a JSON object"}, status_code=400)
    outcome = await webhooks.on_resend_event(db, key, headers["id"], payload, at=messaging.clock())
    log.info("resend.event", org_id=key.org_id, type=payload.get("type"), outcome=outcome)
    return JSONResponse({"status": outcome})
