"""Twilio's voice webhooks: the TwiML for a call and its status callbacks.

Both are refused with 403 unless Twilio's signature checks out against the public URL.
"""

from __future__ import annotations

import time

import structlog
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from config import defaults
from gateway import twiml
from gateway.call_context import CallContext, initiation_for
from gateway.call_outcomes import record_call_end
from gateway.call_setup import inbound_record
from gateway.call_status import FINAL, UnknownStatus
from gateway.calls import CallRecord
from gateway.hub import LiveEvent
from gateway.services import Services
from gateway.twilio_signature import SIGNATURE_HEADER

log = structlog.get_logger(__name__)

XML = "application/xml"


async def _signed_form(request: Request, services: Services, route: str) -> FormData | None:
    form = await request.form()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    ok = services.signatures.valid_form(request.url.path, request.url.query, form, signature)
    if not ok:
        services.metrics.refused.labels(route).inc()
        log.warning(
            "twilio.signature_refused",
            route=route,
            call_sid=str(form.get("CallSid", ""))[:64],
            signature_present=bool(signature),
        )
        return None
    return form


def context_for(record: CallRecord) -> CallContext:
    return CallContext(
        call_sid=record.call_sid,
        org_id=record.org_id,
        account_id=record.account_id,
        direction=record.direction,
        opening_mode=record.opening_mode,
        language=record.language,
        voice_id=record.voice_id,
        dynamic_variables=dict(record.variables),
    )


async def voice(request: Request) -> Response:
    """Answer an inbound call or an outbound pick-up with ``<Connect><Stream>``."""
    services: Services = request.app.state.services
    form = await _signed_form(request, services, "voice")
    if form is None:
        return PlainTextResponse("invalid signature", status_code=403)
    call_sid = str(form.get("CallSid", ""))
    if not call_sid.startswith("CA"):
        return PlainTextResponse("CallSid is missing or malformed", status_code=400)
    if services.draining:
        return Response(twiml.reject(), media_type=XML)
    record = await _record_for(services, request, form, call_sid)
    if record is None:
        return PlainTextResponse("unknown call reference", status_code=404)
    token = record.issue_stream_token(services.settings.stream_token_ttl_s, time.monotonic())
    if services.settings.prewarm:
        services.prewarm.start(call_sid, initiation_for(context_for(record)))
    body = twiml.connect_stream(
        services.settings.media_stream_url,
        {
            "direction": record.direction,
            "account_id": record.account_id,
            "call_ref": record.call_ref,
            "stream_token": token,
        },
    )
    log.info("call.twiml", call_sid=call_sid, org_id=record.org_id, direction=record.direction)
    return Response(body, media_type=XML)


async def _record_for(
    services: Services, request: Request, form: FormData, call_sid: str
) -> CallRecord | None:
    call_ref = request.query_params.get("call", "")
    if call_ref:
        record = services.calls.by_ref(call_ref)
        if record is None:
            return None
        if not record.call_sid:
            services.calls.bind_sid(record, call_sid)
        return record if record.call_sid == call_sid else None
    record = services.calls.by_sid(call_sid)
    if record is not None:
        return record
    record = await inbound_record(
        services,
        call_sid=call_sid,
        from_=str(form.get("From", "")),
        to=str(form.get("To", "")),
        status=str(form.get("CallStatus", "ringing")) or "ringing",
    )
    services.calls.add(record)
    services.publish(LiveEvent(record.org_id, call_sid, "call.created", record.card()))
    return record


async def status(request: Request) -> Response:
    """Record call progress and answering-machine verdicts, in any arrival order."""
    services: Services = request.app.state.services
    form = await _signed_form(request, services, "status")
    if form is None:
        return PlainTextResponse("invalid signature", status_code=403)
    call_sid = str(form.get("CallSid", ""))
    record = services.calls.by_sid(call_sid)
    if record is None and (ref := request.query_params.get("call")):
        record = services.calls.by_ref(ref)
        if record is not None and not record.call_sid and call_sid:
            services.calls.bind_sid(record, call_sid)
    if record is None:
        log.info("twilio.status_unknown_call", call_sid=call_sid[:64])
        return Response(status_code=204)
    call_status = str(form.get("CallStatus", ""))
    if call_status:
        sequence = _int(form.get("SequenceNumber"), default=len(record.history))
        try:
            applied = record.apply_status(call_status, sequence, time.time())
        except UnknownStatus:
            return PlainTextResponse(f"CallStatus: unknown value {call_status!r}", status_code=400)
        if applied:
            _publish_status(services, record, call_status)
            if call_status in FINAL:
                _status_final(services, record, call_status)
    answered_by = str(form.get("AnsweredBy", ""))
    if answered_by:
        record.answered_by = answered_by
        _publish_status(services, record, "amd", answered_by=answered_by)
        runner = services.runner_for(record)
        if runner is not None:
            runner.answered_by(answered_by)
    return Response(status_code=204)


def _publish_status(services: Services, record: CallRecord, kind: str, **extra: str) -> None:
    services.publish(
        LiveEvent(record.org_id, record.call_sid, "call.status", {"status": kind, **extra})
    )


def _status_final(services: Services, record: CallRecord, call_status: str) -> None:
    """A call that never streamed (busy, no answer, ...) ends here, not in a runner."""
    services.prewarm.discard(record.call_sid)
    runner = services.runner_for(record)
    if runner is not None:
        return
    if record.ended_at is None:
        record.ended_at = time.time()
        record.end_reason = record.end_reason or call_status
        record.outcome = record.outcome or call_status
        services.metrics.calls.labels(record.outcome).inc()
        services.publish(
            LiveEvent(
                record.org_id,
                record.call_sid,
                "call.ended",
                {"reason": record.end_reason, "outcome": record.outcome},
            )
        )
        services.spawn(record_call_end(services, record), "call-outcome")


def _int(value: object, *, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


async def whisper(request: Request) -> Response:
    """What the person hears on answering a warm transfer, before the caller joins."""
    services: Services = request.app.state.services
    form = await _signed_form(request, services, "whisper")
    if form is None:
        return PlainTextResponse("invalid signature", status_code=403)
    record = services.calls.by_ref(request.query_params.get("call", ""))
    if record is None or not record.transfer_brief:
        return Response(twiml.say("Connecting a caller.", "en", hang_up=False), media_type=XML)
    return Response(twiml.say(record.transfer_brief, "en", hang_up=False), media_type=XML)


async def transfer_result(request: Request) -> Response:
    """Twilio's ``<Dial action>``: the transfer ended, answered or not."""
    services: Services = request.app.state.services
    form = await _signed_form(request, services, "transfer")
    if form is None:
        return PlainTextResponse("invalid signature", status_code=403)
    record = services.calls.by_ref(request.query_params.get("call", ""))
    dial_status = str(form.get("DialCallStatus", ""))
    if record is not None:
        _publish_status(services, record, "transfer", dial_status=dial_status)
        log.info(
            "call.transfer_ended",
            call_sid=record.call_sid,
            org_id=record.org_id,
            dial_status=dial_status,
        )
    if dial_status in ("completed", "answered"):
        return Response(twiml.hang_up(), media_type=XML)
    language = record.language if record is not None else "en"
    if record is not None:
        record.end_reason = record.outcome = "transfer_unanswered"
        services.spawn(record_call_end(services, record), "call-outcome")
    return Response(twiml.say(defaults.transfer_unanswered_for(language), language), media_type=XML)
