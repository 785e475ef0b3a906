"""Telling the backoffice how a call went: at its end, and when a call never streamed.

Runs beside the call (``Services.spawn``), never in front of it: the call is already
over for the caller when this writes. A failure here is logged and retried by nobody
but the post-call sweep, which fills in whatever is missing from ElevenLabs' side.
"""

from __future__ import annotations

import datetime as dt

import structlog

from backoffice.calls import ledger
from backoffice.calls.models import CallOutcome
from backoffice.calls.sessions import find_session, update_session
from gateway.calls import CallRecord
from gateway.services import Services

log = structlog.get_logger(__name__)


def _utc(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)


async def record_call_end(services: Services, record: CallRecord) -> None:
    """Close the call's session and report its outcome to the system of record."""
    bound = log.bind(call_sid=record.call_sid, org_id=record.org_id, account_id=record.account_id)
    try:
        db = services.database
        session = await find_session(db, record.call_sid)
        if session is None or session.org_id != record.org_id:
            return
        ended_at = _utc(record.ended_at) or services.clock()
        started_at = _utc(record.answered_at)
        await update_session(
            db,
            record.call_sid,
            status=record.status,
            outcome=record.outcome or record.status,
            end_reason=record.end_reason or None,
            ended_at=ended_at,
            started_at=started_at,
            conversation_id=record.conversation_id or session.conversation_id,
        )
        if session.account_ref is None:
            return
        records = await services.records.records_for(record.org_id)
        used = list(record.tools_used)
        for name in await ledger.tools_used(db, record.org_id, record.call_sid):
            if name not in used:  # a webhook tool of this call
                used.append(name)
        duration = (
            None if started_at is None else max(0, round((ended_at - started_at).total_seconds()))
        )
        await records.record_outcome(
            session.ref(),
            CallOutcome(
                status=record.outcome or record.status,
                end_reason=record.end_reason,
                started_at=started_at,
                ended_at=ended_at,
                duration_s=duration,
                conversation_id=record.conversation_id or None,
                transcript=tuple(record.transcript) if record.transcript else None,
                tools_used=tuple(used),
                source="gateway",
            ),
        )
    except Exception:
        bound.exception("call.outcome_failed")
