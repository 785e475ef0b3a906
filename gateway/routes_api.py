"""Operator API of the gateway: place an outbound call, read and end calls.

A call is placed only for an account of the caller's organization, to one of its
contact's numbers, and only when the compliance check allows a call now (else 409
with the reason and when calling becomes allowed).

Declared with the backoffice's endpoint framework, so these routes share its API-key
authentication, roles, field-named errors and OpenAPI description. Every route only
sees the caller's organization; another organization's call is a 404, exactly like
one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from pydantic import BaseModel, Field, StringConstraints, field_validator
from sqlalchemy import or_, select
from starlette.responses import JSONResponse, Response
from twilio.base.exceptions import TwilioRestException

from backoffice.api.framework import Api, Call, error_response
from backoffice.call_planning import plan_outbound_call
from backoffice.calls.interface import RecordsUnavailable
from backoffice.calls.sessions import CallSession, session_of
from backoffice.errors import FieldError, InvalidInput, NotFound
from backoffice.store.tables import call_sessions
from gateway.call_context import OpeningMode
from gateway.call_model import Phase
from gateway.call_setup import briefing_for, outbound_record, start_session
from gateway.calls import CallRecord
from gateway.hub import LiveEvent
from gateway.post_call_sweep import NotReady, fetch_report
from gateway.services import Services

log = structlog.get_logger(__name__)

api = Api()

E164 = r"^\+[1-9][0-9]{6,14}$"
RESERVED_VARIABLES = frozenset({"call_sid", "account_id", "call_direction"})
VariableName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class PlaceCall(BaseModel):
    account_id: str = Field(
        min_length=1, max_length=128, description="The account's id or external id."
    )
    to: str | None = Field(
        default=None,
        pattern=E164,
        description="One of the contact's numbers in E.164; default: the contact's phone.",
    )
    from_: str | None = Field(default=None, alias="from", pattern=E164)
    opening_mode: OpeningMode | None = Field(
        default=None,
        description="Who speaks first; default: the organization's setting (callee_first).",
    )
    language: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-[A-Z]{2})?$",
        description="Override; default: the contact's, else the organization's language.",
    )
    variables: dict[VariableName, str | int | float | bool] = Field(
        default_factory=dict,
        max_length=50,
        description="Extra dynamic variables for the agent (e.g. debtor_first_name).",
    )

    @field_validator("variables")
    @classmethod
    def _not_reserved(cls, value: dict[str, object]) -> dict[str, object]:
        # ElevenLabs reserves system__ for its own variables; call_sid and friends are ours.
        for name in value:
            if name.startswith("system__") or name in RESERVED_VARIABLES:
                raise ValueError(f"{name!r} is reserved")
        return value


def _services(call: Call) -> Services:
    services: Services = call.request.app.state.services
    return services


def _find(services: Services, org: str, ref: str) -> CallRecord:
    record = services.calls.by_ref(ref) or services.calls.by_sid(ref)
    if record is None or record.org_id != org:
        raise NotFound("call")
    return record


@api.route(
    "POST",
    "/api/calls",
    role="operator",
    summary="Place an outbound AI call",
    tag="calls",
    body=PlaceCall,
    status=201,
)
async def place_call(call: Call) -> Response | dict[str, Any]:
    services = _services(call)
    if services.draining:
        return error_response(503, "this gateway is draining; retry on another")
    body: PlaceCall = call.body
    from_number = body.from_ or services.settings.twilio_from_number
    if not from_number:
        raise InvalidInput(
            [FieldError("from", "required when PARLEY_TWILIO_FROM_NUMBER is not set")],
            "invalid call request",
        )
    calls = await services.records.org_calls(call.org_id)
    try:
        plan = await plan_outbound_call(
            call.db,
            org_id=call.org_id,
            account=body.account_id,
            to=body.to,
            language=body.language,
            at=services.clock(),
            records=calls.records,
        )
    except RecordsUnavailable:
        return error_response(
            503, "your system of record did not answer in time; nothing was dialled, retry"
        )
    if not plan.allowed:
        decision = plan.decision
        return JSONResponse(
            {
                "error": decision.message,
                "reason": decision.reason.value,
                "next_allowed_at": decision.next_allowed_at.isoformat()
                if decision.next_allowed_at
                else None,
            },
            status_code=409,
        )
    briefing = await briefing_for(
        services, calls, plan.subject, plan.language, third_party_number=plan.third_party_number
    )
    record = outbound_record(
        calls,
        plan,
        briefing,
        from_number=from_number,
        opening_mode=body.opening_mode,
        extra_variables=body.variables,
    )
    services.calls.add(record)
    public = services.signatures.public_url
    try:
        placed = await services.voice.place_call(
            to=plan.to,
            from_=from_number,
            twiml_url=public("/twilio/voice", f"call={record.call_ref}"),
            status_url=public("/twilio/status", f"call={record.call_ref}"),
        )
    except TwilioRestException as exc:
        record.status, record.outcome = "failed", "twilio_refused"
        log.warning(
            "call.place_failed", org_id=call.org_id, account_id=body.account_id, code=exc.code
        )
        return error_response(502, f"Twilio refused the call: {exc.msg}")
    if not record.call_sid:
        services.calls.bind_sid(record, placed.call_sid)
    await start_session(
        services,
        record,
        calls,
        contact_id=plan.contact_id,
        number=plan.to,
        within_allowed_hours=plan.decision.allowed,
    )
    services.publish(LiveEvent(call.org_id, record.call_sid, "call.created", record.card()))
    log.info(
        "call.placed", org_id=call.org_id, account_id=body.account_id, call_sid=placed.call_sid
    )
    return record.summary()


@api.route("GET", "/api/calls/{ref}", role="viewer", summary="One call", tag="calls")
async def get_call(call: Call) -> dict[str, Any]:
    return _find(_services(call), call.org_id, call.path["ref"]).summary()


@api.route("GET", "/api/calls", role="viewer", summary="Active calls", tag="calls")
async def list_calls(call: Call) -> dict[str, Any]:
    return {"calls": [r.summary() for r in _services(call).calls.active(call.org_id)]}


class TransferToSupervisor(BaseModel):
    to: str = Field(pattern=E164, description="The supervisor's own number, in E.164.")
    note: str = Field(
        default="", max_length=300, description="Added to the brief the supervisor hears."
    )


def supervisor_brief(record: CallRecord, note: str) -> str:
    """What the supervisor hears before the caller is connected."""
    who = record.debtor_name or "the caller"
    account = f", account {record.account_reference}" if record.account_reference else ""
    brief = f"Supervisor transfer: {record.direction} call with {who}{account}."
    return f"{brief} {note.strip()}" if note.strip() else brief


@api.route(
    "POST",
    "/api/calls/{ref}/transfer",
    role="operator",
    summary="Transfer a live call to a supervisor (warm, with a brief)",
    tag="calls",
    body=TransferToSupervisor,
    status=202,
)
async def transfer_to_supervisor(call: Call) -> Response | dict[str, str]:
    services = _services(call)
    record = _find(services, call.org_id, call.path["ref"])
    runner = services.runner_for(record)
    if runner is None or runner.bridge.ended:
        return JSONResponse({"error": "the call has no live media stream"}, status_code=409)
    if runner.bridge.phase not in (Phase.LIVE, Phase.AWAITING_START):
        return JSONResponse({"error": "the call is already ending"}, status_code=409)
    body: TransferToSupervisor = call.body
    runner.supervisor_transfer(body.to, supervisor_brief(record, body.note))
    log.info(
        "call.supervisor_transfer",
        org_id=call.org_id,
        call_sid=record.call_sid,
        key_id=call.principal.key_id,
    )
    return {"status": "transferring"}


@api.route(
    "POST",
    "/api/calls/{ref}/hangup",
    role="operator",
    summary="End a live call",
    tag="calls",
    status=202,
)
async def hang_up(call: Call) -> Response | dict[str, str]:
    services = _services(call)
    record = _find(services, call.org_id, call.path["ref"])
    runner = services.runner_for(record)
    if runner is None:
        return JSONResponse({"error": "the call has no live media stream"}, status_code=409)
    runner.request_hang_up("operator_ended")
    return {"status": "ending"}


@api.route(
    "POST",
    "/api/calls/{ref}/fetch-transcript",
    role="operator",
    summary="Fetch a call's transcript and analysis from ElevenLabs (when the webhook never came)",
    tag="calls",
)
async def fetch_transcript(call: Call) -> Response | dict[str, Any]:
    services = _services(call)
    session = await _stored_session(services, call.org_id, call.path["ref"])
    if not services.elevenlabs.has_key:
        return error_response(409, "PARLEY_ELEVENLABS_API_KEY is not set; nothing can be fetched")
    try:
        stored = await fetch_report(services, session)
    except NotReady as exc:
        return error_response(409, f"ElevenLabs is still processing the conversation ({exc})")
    except LookupError as exc:
        return error_response(409, str(exc))
    except Exception as exc:
        log.warning("post_call.fetch_failed", call_sid=session.call_sid, error=str(exc)[:200])
        return error_response(502, "ElevenLabs did not answer; try again later")
    return {"status": "stored" if stored else "unknown_call", "call_sid": session.call_sid}


async def _stored_session(services: Services, org_id: str, ref: str) -> CallSession:
    async with services.database.read() as conn:
        row = (
            await conn.execute(
                select(call_sessions).where(
                    call_sessions.c.org_id == org_id,
                    or_(call_sessions.c.call_ref == ref, call_sessions.c.call_sid == ref),
                )
            )
        ).first()
    if row is None:
        raise NotFound("call")
    return session_of(row)
