"""``POST /elevenlabs/post-call``: ElevenLabs' post-call webhook.

Refused with 401 and logged, nothing processed, unless the ``ElevenLabs-Signature``
header is ElevenLabs' HMAC of the raw body within the replay window (checked by the
SDK; a far-future timestamp is refused too). A valid report is stored once however
often it is sent (:mod:`gateway.post_call`); a malformed one is refused with 400
naming the field, and nothing is stored.
"""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.elevenlabs_api import WebhookRefused
from gateway.post_call import MalformedReport, parse_report, store_report
from gateway.services import Services

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "elevenlabs-signature"
MAX_BODY = 8 * 1024 * 1024
IGNORED_TYPES = frozenset({"post_call_audio", "call_initiation_failure"})


async def post_call(request: Request) -> Response:
    services: Services = request.app.state.services
    secret = services.settings.elevenlabs_webhook_secret
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return JSONResponse({"error": "body: too large"}, status_code=413)
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if secret is None or not secret.get_secret_value():
        services.metrics.refused.labels("post_call").inc()
        log.warning("post_call.refused", reason="no webhook secret configured")
        return JSONResponse({"error": "post-call webhooks are not configured"}, status_code=401)
    try:
        event = services.elevenlabs.verify_webhook(raw, signature, secret.get_secret_value())
    except WebhookRefused as exc:
        services.metrics.refused.labels("post_call").inc()
        log.warning("post_call.refused", reason=str(exc), signature_present=bool(signature))
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    kind = event.get("type")
    if kind in IGNORED_TYPES:
        return JSONResponse({"status": "ignored", "type": kind})
    if kind != "post_call_transcription":
        return JSONResponse({"error": f"type: unknown event type {kind!r}"}, status_code=400)
    try:
        report = parse_report(event.get("data"), source="webhook")
    except MalformedReport as exc:
        log.warning("post_call.malformed", field=exc.field, reason=exc.reason)
        return JSONResponse({"error": str(exc), "field": exc.field}, status_code=400)
    known = await store_report(services, report)
    return JSONResponse({"status": "stored" if known else "unknown_call"})
