"""``verify_identity`` and ``report_wrong_person``: who is on the line decides what the
agent may say.

Until ``verify_identity`` succeeds no tool returns debt information. A wrong answer
counts; at the organization's limit (three by default) verification ends for the
rest of the call and nothing about the debt may be said. An inbound caller matched
to several debtors is verified against each; the match binds the call to that
debtor's account (or, with several accounts, asks which one).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from agent_tools import speech
from agent_tools.binding import bind_account
from agent_tools.registry import Tool, ToolContext, ToolResult
from agent_tools.scope import CallScope
from backoffice.calls.models import CallRef, IdentityAnswer
from backoffice.calls.sessions import (
    LOCKED,
    VERIFIED,
    WRONG_PERSON,
    find_session,
    record_identity_attempt,
    update_session,
)

ENDED = (
    "Identity verification has ended for this call. Do not reveal or discuss anything "
    "about the account or the debt. Say that for their security you cannot continue, "
    "invite them to call back, and end the call politely."
)


class VerifyIdentityParams(BaseModel):
    document_last4: str = Field(
        pattern=r"^[0-9]{4}$",
        description="The last four digits of the caller's identity document, as digits.",
    )
    date_of_birth: dt.date | None = Field(
        default=None, description="The caller's date of birth (YYYY-MM-DD), when asked for."
    )


async def verify_identity(params: VerifyIdentityParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    session = scope.session
    if session.identity_state == VERIFIED:
        return speech.reply("The caller is already verified.")
    if session.identity_state in (LOCKED, WRONG_PERSON):
        return speech.refusal(ENDED, "verification_ended")
    if scope.policy.require_date_of_birth and params.date_of_birth is None:
        return speech.refusal(
            "Also ask for the caller's date of birth, then call verify_identity again with "
            "both answers.",
            "date_of_birth_required",
        )
    answer = IdentityAnswer(params.document_last4, params.date_of_birth)
    correct = await _matches(scope, answer)
    outcome = await record_identity_attempt(
        scope.db,
        session.call_sid,
        correct=correct,
        max_attempts=scope.policy.max_identity_attempts,
    )
    if outcome.state == VERIFIED:
        return await _verified(scope)
    if outcome.state == LOCKED:
        return speech.refusal(ENDED, "verification_ended")
    return speech.refusal(
        "That does not match our records. Do not say which part was wrong. You may ask "
        f"once more ({outcome.attempts_left} attempt(s) left).",
        "no_match",
        attempts_left=outcome.attempts_left,
    )


async def _matches(scope: CallScope, answer: IdentityAnswer) -> bool:
    """Check the bound account, or each candidate debtor of an unmatched inbound call;
    a candidate that matches becomes the call's account."""
    session = scope.session
    if session.account_ref is not None:
        return await scope.records.verify_identity(scope.call, answer)
    by_contact: dict[str, list[dict[str, str]]] = {}
    for candidate in session.candidates or []:
        by_contact.setdefault(candidate.get("contact_id") or candidate["account_ref"], []).append(
            candidate
        )
    for contact, accounts in by_contact.items():
        probe = CallRef(
            org_id=session.org_id,
            call_sid=session.call_sid,
            account_ref=accounts[0]["account_ref"],
            contact_id=contact,
            number=session.number,
            language=scope.language,
        )
        if await scope.records.verify_identity(probe, answer):
            await update_session(scope.db, session.call_sid, candidates=accounts)
            if len(accounts) == 1:
                await bind_account(scope, accounts[0]["account_ref"], contact)
            else:
                await update_session(scope.db, session.call_sid, contact_id=contact)
            return True
    return False


async def _verified(scope: CallScope) -> ToolResult:
    refreshed = await find_session(scope.db, scope.session.call_sid) or scope.session
    if refreshed.account_ref is None and refreshed.candidates:
        references = [c.get("reference") or c["account_ref"] for c in refreshed.candidates]
        return speech.reply(
            "Identity verified. The caller has several accounts; ask which one they are "
            "calling about and call select_account with its reference.",
            accounts=references,
        )
    return speech.reply(
        "Identity verified. You may now discuss the account; call lookup_account for the "
        "balance before quoting any amount."
    )


class ReportWrongPersonParams(BaseModel):
    note: str = Field(default="", max_length=300, description="What the person said, briefly.")


async def report_wrong_person(params: ReportWrongPersonParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    await update_session(scope.db, scope.session.call_sid, identity_state=WRONG_PERSON)
    if scope.session.account_ref is None:
        return speech.reply(
            "Noted. Do not mention any debt. Ask whether they can pass on a number where the "
            "person can be reached, then end the call."
        )
    return speech.from_action(await scope.records.mark_wrong_party(scope.call, ctx.tool_call_id))


VERIFY_IDENTITY = Tool(
    name="verify_identity",
    description=(
        "Verify that you are speaking with the debtor before discussing anything about the "
        "account. Ask for the last four digits of their identity document (and the date of "
        "birth when told to). Never say which part was wrong."
    ),
    params=VerifyIdentityParams,
    handler=verify_identity,
    timeout_s=5.0,
)

REPORT_WRONG_PERSON = Tool(
    name="report_wrong_person",
    description=(
        "The person on the line says they are not the debtor, or the number belongs to "
        "someone else. After this, reveal nothing about the account or the debt."
    ),
    params=ReportWrongPersonParams,
    handler=report_wrong_person,
    timeout_s=5.0,
)
