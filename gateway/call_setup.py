"""Setting a call up before the agent speaks: its session, its interaction, its briefing.

Outbound: the operator API has planned the call; once Twilio has given it a CallSid,
the session is opened and the account's interaction started. Inbound: the caller's
number (main or alternate) is matched to the organization's contacts while Twilio
waits for TwiML; one account binds the call, several are kept as candidates (the
agent verifies and asks which), none leaves a generic flow. Either way the agent's
dynamic variables and continuity notes are ready before the prewarmed session opens.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from backoffice.call_planning import CallPlan
from backoffice.calls.briefing import Briefing, continuity_notes, facts, last_interactions
from backoffice.calls.interface import RecordsUnavailable
from backoffice.calls.models import CallRef, CallSubject
from backoffice.calls.records import OrgCalls
from backoffice.calls.sessions import open_session, update_session
from backoffice.errors import NotFound
from backoffice.language import effective_language
from gateway.call_context import OpeningMode, opening_mode_for, voice_for
from gateway.calls import CallRecord
from gateway.services import Services

log = structlog.get_logger(__name__)


async def briefing_for(
    services: Services,
    calls: OrgCalls,
    subject: CallSubject,
    language: str,
    *,
    third_party_number: bool = False,
    inbound: bool = False,
) -> Briefing:
    variables = facts(calls.org, subject, language)
    async with services.database.read() as conn:
        notes = await continuity_notes(
            conn,
            org=calls.org,
            policy=calls.policy,
            account_ref=subject.account_ref,
            at=services.clock(),
            third_party_number=third_party_number,
            builtin=calls.records.kind == "builtin",
        )
        if inbound and calls.records.kind == "builtin":
            recent = await last_interactions(conn, calls.org.id, subject.account_ref)
            if recent:
                notes.append("Last interactions on this account: " + " ".join(recent))
    variables["account_status"] = subject.status
    return Briefing(variables, notes)


def outbound_record(
    calls: OrgCalls,
    plan: CallPlan,
    briefing: Briefing,
    *,
    from_number: str,
    opening_mode: OpeningMode | None,
    extra_variables: dict[str, Any],
) -> CallRecord:
    return CallRecord(
        call_ref=uuid.uuid4().hex,
        org_id=calls.org.id,
        account_id=plan.account_id,
        direction="outbound",
        opening_mode=opening_mode_for(
            per_call=opening_mode, organization=calls.policy.opening_mode
        ),
        language=plan.language,
        account_reference=plan.subject.reference or "",
        debtor_name=plan.subject.contact_name,
        to=plan.to,
        from_=from_number,
        variables={**briefing.as_variables(), **extra_variables},
        voice_id=voice_for(plan.language, calls.policy.voice_for(plan.language)),
    )


async def start_session(
    services: Services,
    record: CallRecord,
    calls: OrgCalls,
    *,
    contact_id: str | None,
    number: str,
    candidates: list[dict[str, Any]] | None = None,
    within_allowed_hours: bool | None = None,
) -> None:
    """Open the call's session and, for a known account, its interaction."""
    await open_session(
        services.database,
        org_id=record.org_id,
        call_sid=record.call_sid,
        call_ref=record.call_ref,
        direction=record.direction,
        account_ref=record.account_id or None,
        contact_id=contact_id,
        number=number,
        language=record.language,
        candidates=candidates,
        status=record.status,
        now=services.clock(),
    )
    if not record.account_id:
        return
    call = CallRef(
        org_id=record.org_id,
        call_sid=record.call_sid,
        account_ref=record.account_id,
        contact_id=contact_id,
        number=number,
        language=record.language,
    )
    interaction_id = await calls.records.call_started(
        call, direction=record.direction, within_allowed_hours=within_allowed_hours
    )
    if interaction_id is not None:
        await update_session(services.database, record.call_sid, interaction_id=interaction_id)


async def inbound_record(
    services: Services, *, call_sid: str, from_: str, to: str, status: str
) -> CallRecord:
    """The record of a new inbound call, matched to the caller's accounts if any."""
    org_id = services.settings.inbound_org_id
    try:
        calls = await services.records.org_calls(org_id)
    except NotFound:
        # A gateway set up without its inbound organization still answers the call;
        # the agent gets no account and no tool can act.
        log.error("call.inbound_org_missing", call_sid=call_sid, org_id=org_id)
        return CallRecord(
            call_ref=uuid.uuid4().hex,
            org_id=org_id,
            account_id="",
            direction="inbound",
            opening_mode=OpeningMode.AGENT_FIRST,
            language=services.settings.default_locale,
            to=to,
            from_=from_,
            call_sid=call_sid,
            status=status,
        )
    try:
        matches = await calls.records.match_caller(org_id, from_) if from_ else []
    except RecordsUnavailable:
        # The organization's own system is down: answer anyway, as an unknown caller
        # (the agent can take a message or book a callback; nothing is revealed).
        log.warning("call.inbound_match_unavailable", call_sid=call_sid, org_id=org_id)
        matches = []
    workable = [m for m in matches if m.status not in ("paid", "closed")] or matches
    bound = workable[0] if len({m.account_ref for m in workable}) == 1 else None
    language_hint = bound.language if bound else _shared(m.language for m in workable)
    language = effective_language(
        contact_language=language_hint,
        org_locale=calls.org.locale,
        org_country=calls.org.country,
    ).tag
    variables: dict[str, Any]
    if bound is not None:
        briefing = await briefing_for(services, calls, bound, language, inbound=True)
        variables = {**briefing.as_variables(), "caller_known": True}
    else:
        variables = {
            "org_name": calls.org.name,
            "language": language,
            "debtor_first_name": "",
            "caller_known": bool(workable),
            "accounts_count": len(workable),
            "call_notes": (
                "The caller's number matches several accounts: verify identity first, "
                "then ask which account they are calling about."
                if workable
                else "The caller's number is not on file: ask who they are and how you can "
                "help; reveal nothing about any account until identity is verified."
            ),
        }
    record = CallRecord(
        call_ref=uuid.uuid4().hex,
        org_id=org_id,
        account_id=bound.account_ref if bound else "",
        account_reference=(bound.reference or "") if bound else "",
        debtor_name=bound.contact_name if bound else "",
        direction="inbound",
        opening_mode=OpeningMode.AGENT_FIRST,
        language=language,
        to=to,
        from_=from_,
        call_sid=call_sid,
        status=status,
        variables=variables,
        voice_id=voice_for(language, calls.policy.voice_for(language)),
    )
    candidates = [
        {"account_ref": m.account_ref, "contact_id": m.contact_id, "reference": m.reference}
        for m in workable
    ]
    await start_session(
        services,
        record,
        calls,
        contact_id=bound.contact_id if bound else None,
        number=from_,
        candidates=candidates or None,
    )
    log.info(
        "call.inbound_matched",
        call_sid=call_sid,
        org_id=org_id,
        account_id=record.account_id,
        matches=len(workable),
    )
    return record


def _shared(values: Any) -> str | None:
    distinct = {v for v in values if v}
    return distinct.pop() if len(distinct) == 1 else None
