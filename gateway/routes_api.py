"""Operator API of the gateway: place an outbound call, read calls.

Every route resolves the caller's organization from its API key and only ever reads
or changes that organization's calls; another organization's call is a 404, exactly
like one that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
import structlog
from pydantic import BaseModel, Field, StringConstraints, ValidationError, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from twilio.base.exceptions import TwilioRestException

from config import defaults
from gateway.call_context import OpeningMode
from gateway.calls import CallRecord
from gateway.services import Services

log = structlog.get_logger(__name__)

E164 = r"^\+[1-9][0-9]{6,14}$"
RESERVED_VARIABLES = frozenset({"call_sid", "account_id", "call_direction"})
VariableName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class PlaceCall(BaseModel):
    account_id: str = Field(min_length=1, max_length=128)
    to: str = Field(pattern=E164, description="The debtor's number in E.164.")
    from_: str | None = Field(default=None, alias="from", pattern=E164)
    opening_mode: OpeningMode = OpeningMode.CALLEE_FIRST
    language: str = Field(default=defaults.DEFAULT_LANGUAGE, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
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


def error(status: int, message: str, errors: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


def _org(request: Request) -> str | None:
    org: str | None = request.app.state.operator_keys.org_of_request(request)
    return org


async def place_call(request: Request) -> Response:
    """``POST /api/calls``: dial an account's number with the AI agent."""
    org = _org(request)
    if org is None:
        return error(401, "a valid API key is required")
    services: Services = request.app.state.services
    if services.draining:
        return error(503, "this gateway is draining; retry on another")
    try:
        payload = orjson.loads(await request.body())
        call = PlaceCall.model_validate(payload)
    except orjson.JSONDecodeError:
        return error(400, "body must be a JSON object")
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "reason": e["msg"]}
            for e in exc.errors()
        ]
        return error(422, "invalid call request", problems)
    settings = services.settings
    from_number = call.from_ or settings.twilio_from_number
    if not from_number:
        return error(
            422,
            "no caller id",
            [{"field": "from", "reason": "required when PARLEY_TWILIO_FROM_NUMBER is not set"}],
        )
    record = CallRecord(
        call_ref=uuid.uuid4().hex,
        org_id=org,
        account_id=call.account_id,
        direction="outbound",
        opening_mode=call.opening_mode,
        language=call.language,
        to=call.to,
        from_=from_number,
        variables=dict(call.variables),
    )
    services.calls.add(record)
    public = services.signatures.public_url
    try:
        placed = await services.voice.place_call(
            to=call.to,
            from_=from_number,
            twiml_url=public("/twilio/voice", f"call={record.call_ref}"),
            status_url=public("/twilio/status", f"call={record.call_ref}"),
        )
    except TwilioRestException as exc:
        record.status, record.outcome = "failed", "twilio_refused"
        log.warning("call.place_failed", org_id=org, account_id=call.account_id, code=exc.code)
        return error(502, f"Twilio refused the call: {exc.msg}")
    if not record.call_sid:
        services.calls.bind_sid(record, placed.call_sid)
    log.info("call.placed", org_id=org, account_id=call.account_id, call_sid=placed.call_sid)
    return JSONResponse(record.summary(), status_code=201)


def _find(services: Services, org: str, ref: str) -> CallRecord | None:
    record = services.calls.by_ref(ref) or services.calls.by_sid(ref)
    return record if record is not None and record.org_id == org else None


async def get_call(request: Request) -> Response:
    org = _org(request)
    if org is None:
        return error(401, "a valid API key is required")
    record = _find(request.app.state.services, org, request.path_params["ref"])
    if record is None:
        return error(404, "no such call")
    return JSONResponse(record.summary())


async def list_calls(request: Request) -> Response:
    org = _org(request)
    if org is None:
        return error(401, "a valid API key is required")
    services: Services = request.app.state.services
    return JSONResponse({"calls": [r.summary() for r in services.calls.active(org)]})


async def hang_up(request: Request) -> Response:
    """``POST /api/calls/{ref}/hangup``: end a live call now."""
    org = _org(request)
    if org is None:
        return error(401, "a valid API key is required")
    services: Services = request.app.state.services
    record = _find(services, org, request.path_params["ref"])
    if record is None:
        return error(404, "no such call")
    runner = services.runner_for(record)
    if runner is None:
        return error(409, "the call has no live media stream")
    runner.request_hang_up("operator_ended")
    return JSONResponse({"status": "ending"}, status_code=202)
