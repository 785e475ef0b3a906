"""A call's interaction in the built-in store: opened when the call starts, completed
when it ends, enriched when the post-call analysis arrives.

Theory of operation. The gateway reports the end of every call it knows (answered or
not) and ElevenLabs' analysis comes later, by webhook or by the fetch sweep; each
report fills what it knows and leaves the rest, so the order does not matter and a
repeat changes nothing. The account's status moves on only from the statuses a call
starts from (``new``, ``pending_contact``, ``auto_management``,
``active_conversation``): what the agent did during the call (a promise, a dispute,
an escalation) already moved it further and is never undone by a later summary.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.accounts.repository import account_row
from backoffice.accounts.status import allowed, change_status
from backoffice.calls.models import CallOutcome, CallRef
from backoffice.calls.timeline import add_event
from backoffice.store.tables import (
    contact_phones,
    disposition_history,
    interactions,
    new_id,
    utcnow,
)

_CALL_START_STATUSES = frozenset(
    {"new", "pending_contact", "auto_management", "active_conversation"}
)

#: What the post-call analysis may say of a call (the agent's data collection asks for
#: exactly these), and the status each moves the account to (None: no change; an
#: opt-out, for one, is the compliance side's business, already done by the tool).
DISPOSITION_STATUS: dict[str, str | None] = {
    "promise_to_pay": "promise_active",
    "callback_requested": "active_conversation",
    "dispute": "in_review",
    "hardship": "in_review",
    "refused_to_pay": "active_conversation",
    "already_paid": "in_review",  # a person confirms the payment before the account is paid
    "opt_out": None,
    "escalated": "escalated",
    "transferred": "active_conversation",
    "no_outcome": "pending_contact",
}
DISPOSITIONS = tuple(DISPOSITION_STATUS)
CONTACT_RESULTS = ("right_party", "third_party", "wrong_number", "voicemail", "no_contact")
SENTIMENTS = ("positive", "neutral", "negative")
COOPERATION = ("cooperative", "neutral", "uncooperative", "hostile")

#: Twilio's final call statuses -> the interaction's status.
_UNANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})


async def open_interaction(
    conn: AsyncConnection,
    call: CallRef,
    *,
    direction: str,
    at: dt.datetime,
    within_allowed_hours: bool | None,
) -> str:
    assert call.account_ref is not None
    interaction_id = new_id()
    await conn.execute(
        insert(interactions),
        {
            "id": interaction_id,
            "org_id": call.org_id,
            "account_id": call.account_ref,
            "contact_id": call.contact_id,
            "channel": "call",
            "direction": direction,
            "provider_id": call.call_sid,
            "status": "initiated",
            "within_allowed_hours": within_allowed_hours,
            "started_at": at,
        },
    )
    return interaction_id


def _fields(outcome: CallOutcome) -> dict[str, Any]:
    values: dict[str, Any] = {
        "end_reason": outcome.end_reason or None,
        "ended_at": outcome.ended_at,
        "duration_s": outcome.duration_s,
        "conversation_id": outcome.conversation_id,
        "transcript": [{"role": r, "text": t} for r, t in outcome.transcript]
        if outcome.transcript is not None
        else None,
        "summary": outcome.summary,
        "contact_result": outcome.contact_result,
        "disposition": outcome.disposition,
        "sentiment": outcome.sentiment,
        "willingness": outcome.willingness,
        "cooperation": outcome.cooperation,
        "tools_used": list(outcome.tools_used) if outcome.tools_used is not None else None,
        "cost": outcome.cost,
        "analysis": outcome.analysis,
    }
    return {k: v for k, v in values.items() if v is not None}


def _interaction_status(status: str) -> str:
    if status in _UNANSWERED:
        return status.replace("-", "_")
    return status


async def record_outcome(conn: AsyncConnection, call: CallRef, outcome: CallOutcome) -> None:
    if call.interaction_id is None:
        return
    row = (
        await conn.execute(
            select(interactions.c.status, interactions.c.outcome_source).where(
                interactions.c.org_id == call.org_id, interactions.c.id == call.interaction_id
            )
        )
    ).first()
    if row is None:
        return
    values = _fields(outcome)
    analysed = outcome.source in ("webhook", "fetch")
    if analysed:
        if row.outcome_source in ("webhook", "fetch"):
            return  # the analysis is stored once, whichever way it came first
        values.update(outcome_source=outcome.source, outcome_at=utcnow())
    else:
        values["status"] = _interaction_status(outcome.status)
        if row.outcome_source in ("webhook", "fetch"):
            values.pop("transcript", None)  # ElevenLabs' transcript came first and wins
    if values:
        await conn.execute(
            update(interactions)
            .where(interactions.c.org_id == call.org_id, interactions.c.id == call.interaction_id)
            .values(**values)
        )
    if not analysed:
        await _rotate_number(conn, call, outcome.status)
        if outcome.status in _UNANSWERED or outcome.status == "voicemail":
            await _advance(conn, call, "pending_contact", f"call {outcome.status}")
        return
    if outcome.disposition:
        await conn.execute(
            insert(disposition_history),
            {
                "id": new_id(),
                "org_id": call.org_id,
                "account_id": call.account_ref,
                "interaction_id": call.interaction_id,
                "disposition": outcome.disposition,
                "contact_result": outcome.contact_result,
                "source": outcome.source,
            },
        )
        await add_event(
            conn,
            org_id=call.org_id,
            account_id=call.account_ref,
            interaction_id=call.interaction_id,
            kind="disposition",
            summary=f"Call disposition: {outcome.disposition.replace('_', ' ')}",
            actor="webhook:elevenlabs" if outcome.source == "webhook" else "sweep:elevenlabs",
            detail={"contact_result": outcome.contact_result, "sentiment": outcome.sentiment},
        )
        target = DISPOSITION_STATUS.get(outcome.disposition)
        if target is not None:
            await _advance(conn, call, target, f"call disposition {outcome.disposition}")


async def _advance(conn: AsyncConnection, call: CallRef, target: str, reason: str) -> None:
    if call.account_ref is None:
        return
    row = await account_row(conn, call.org_id, call.account_ref, for_update=True)
    if row.status not in _CALL_START_STATUSES or not allowed(row.status, target):
        return
    await change_status(
        conn,
        org_id=call.org_id,
        account_id=call.account_ref,
        to_status=target,
        actor=call.actor,
        reason=reason,
    )


async def _rotate_number(conn: AsyncConnection, call: CallRef, status: str) -> None:
    """Phone rotation: a number that keeps failing moves back; an answer resets it."""
    if not call.number or call.contact_id is None:
        return
    where = (
        (contact_phones.c.org_id == call.org_id)
        & (contact_phones.c.contact_id == call.contact_id)
        & (contact_phones.c.number == call.number)
    )
    failed = status in _UNANSWERED
    await conn.execute(
        update(contact_phones)
        .where(where)
        .values(
            consecutive_failures=contact_phones.c.consecutive_failures + 1 if failed else 0,
            last_attempt_at=utcnow(),
            last_result=status,
        )
    )
