"""ElevenLabs' view of a finished call: transcript, summary, cost and the analysis.

It arrives by the post-call webhook (``post_call_transcription``) or, when that
webhook never came, by fetching the conversation (the operator's "fetch transcript"
action and the periodic sweep); both carry the same ``data`` object (reference
``elevenlabs-convai.md`` §7), parsed here once into a
:class:`~backoffice.calls.models.CallOutcome` and handed to the call's system of
record. Storing is idempotent: the analysis of a call is stored once, whichever way
it came first and however often it is sent.

The call is found by the ``call_sid`` dynamic variable parley sends with every
conversation (custom bridges get no ``metadata.phone_call``), else by conversation id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog

from backoffice.calls.models import CallOutcome
from backoffice.calls.outcomes import CONTACT_RESULTS, COOPERATION, DISPOSITIONS, SENTIMENTS
from backoffice.calls.sessions import CallSession, by_conversation, find_session, update_session
from gateway.hub import LiveEvent
from gateway.services import Services

log = structlog.get_logger(__name__)

ANALYSIS_FIELDS = (
    "contact_result",
    "disposition",
    "sentiment",
    "willingness_to_pay",
    "cooperation",
)


class MalformedReport(ValueError):
    """The body is not a conversation report; ``field`` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Report:
    conversation_id: str
    call_sid: str
    outcome: CallOutcome


def _dict(value: object, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedReport(field, "must be an object")
    return value


def _collected(analysis: dict[str, Any]) -> dict[str, Any]:
    results = _dict(analysis.get("data_collection_results"), "analysis.data_collection_results")
    values: dict[str, Any] = {}
    for key, entry in results.items():
        values[key] = entry.get("value") if isinstance(entry, dict) else entry
    return values


def _known(value: object, allowed: tuple[str, ...]) -> str | None:
    """One of the values the agent's data collection may give, else None (the raw value
    stays in the stored analysis)."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    return text if text in allowed else None


def _willingness(value: object) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= 5 else None


def _cost(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def parse_report(data: object, *, source: str) -> Report:
    """Parse a conversation object (webhook ``data`` or the GET conversation body).

    Raises:
        MalformedReport: not a conversation report.
    """
    body = _dict(data, "data")
    conversation_id = body.get("conversation_id")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise MalformedReport("data.conversation_id", "missing")
    transcript_in = body.get("transcript") or []
    if not isinstance(transcript_in, list):
        raise MalformedReport("data.transcript", "must be a list")
    metadata = _dict(body.get("metadata"), "data.metadata")
    analysis = _dict(body.get("analysis"), "data.analysis")
    initiation = _dict(
        body.get("conversation_initiation_client_data"), "data.conversation_initiation_client_data"
    )
    variables = _dict(initiation.get("dynamic_variables"), "dynamic_variables")
    phone = _dict(metadata.get("phone_call"), "data.metadata.phone_call")
    call_sid = str(variables.get("call_sid") or phone.get("call_sid") or "")
    lines: list[tuple[str, str]] = []
    tools: list[str] = []
    for turn in transcript_in:
        if not isinstance(turn, dict):
            raise MalformedReport("data.transcript", "turns must be objects")
        message = turn.get("message")
        if isinstance(message, str) and message:
            lines.append(("caller" if turn.get("role") == "user" else "agent", message))
        for call in turn.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("tool_name"), str):
                tools.append(call["tool_name"])
    collected = _collected(analysis)
    started = metadata.get("start_time_unix_secs")
    duration = metadata.get("call_duration_secs")
    summary = analysis.get("transcript_summary")
    outcome = CallOutcome(
        status="completed",
        started_at=dt.datetime.fromtimestamp(started, dt.UTC)
        if isinstance(started, int | float) and not isinstance(started, bool)
        else None,
        duration_s=int(duration) if isinstance(duration, int | float) else None,
        conversation_id=conversation_id,
        transcript=tuple(lines),
        summary=str(summary)[:4000] if summary else None,
        contact_result=_known(collected.get("contact_result"), CONTACT_RESULTS),
        disposition=_known(collected.get("disposition"), DISPOSITIONS),
        sentiment=_known(collected.get("sentiment"), SENTIMENTS),
        willingness=_willingness(collected.get("willingness_to_pay")),
        cooperation=_known(collected.get("cooperation"), COOPERATION),
        tools_used=tuple(tools),
        cost=_cost(metadata.get("cost")),
        analysis={
            "call_successful": analysis.get("call_successful"),
            "data_collection": {k: collected.get(k) for k in ANALYSIS_FIELDS if k in collected},
            "termination_reason": metadata.get("termination_reason"),
            "main_language": metadata.get("main_language"),
        },
        source=source,
    )
    return Report(conversation_id, call_sid, outcome)


async def session_for(services: Services, report: Report) -> CallSession | None:
    if report.call_sid:
        session = await find_session(services.database, report.call_sid)
        if session is not None:
            return session
    async with services.database.read() as conn:
        return await by_conversation(conn, report.conversation_id)


async def store_report(services: Services, report: Report) -> bool:
    """Hand the report to the call's system of record; False if the call is unknown."""
    session = await session_for(services, report)
    if session is None:
        log.warning("post_call.unknown_call", conversation_id=report.conversation_id[:64])
        return False
    if session.account_ref is not None:
        records = await services.records.records_for(session.org_id)
        await records.record_outcome(session.ref(), report.outcome)
    await update_session(
        services.database,
        session.call_sid,
        conversation_id=report.conversation_id,
        outcome_at=services.clock(),
    )
    outcome = report.outcome
    if outcome.sentiment or outcome.disposition:
        # Supervisors watching (or reopening) the call see how it went as analysed.
        services.publish(
            LiveEvent(
                session.org_id,
                session.call_sid,
                "sentiment",
                {
                    "sentiment": outcome.sentiment,
                    "disposition": outcome.disposition,
                    "willingness": outcome.willingness,
                    "source": outcome.source,
                },
            )
        )
    log.info(
        "post_call.stored",
        call_sid=session.call_sid,
        org_id=session.org_id,
        account_id=session.account_ref,
        source=report.outcome.source,
        disposition=report.outcome.disposition,
    )
    return True
