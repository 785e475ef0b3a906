"""What the agent is told about a call before it speaks: the account, and what came before.

Two parts. The facts (first name, amounts and dates formatted for the call's
language, organization, reference) become ElevenLabs dynamic variables. The
continuity notes say how this call relates to earlier contact, so the agent can open
accordingly:

- it is the callback the debtor asked for;
- the previous call dropped (ended without an outcome a few minutes ago);
- the number was given by a third party (treat the call as a first contact);
- something was sent recently by WhatsApp, SMS or email, or the debtor wrote to us;
- for an inbound caller: the last interactions on the account.

Notes are English sentences for the agent's instructions, never read to the caller
as such; they carry no document numbers and nothing a third party must not hear
beyond what the variables already hold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from babel.dates import format_date
from babel.numbers import format_currency, get_currency_name
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.calls.models import CallSubject
from backoffice.calls.policy import CallPolicy
from backoffice.orgs.models import Organization
from backoffice.store.tables import call_sessions, callback_requests, interactions, tool_calls

DynamicValue = str | int | float | bool

#: Call endings that leave the conversation unfinished (the line dropped, the agent failed).
_DROPPED = frozenset({"caller_hung_up", "agent_failed", "agent_lost", "twilio_closed"})
#: Tools whose use means the call reached an outcome.
_OUTCOME_TOOLS = frozenset(
    {
        "register_promise",
        "schedule_callback",
        "register_dispute",
        "register_hardship",
        "opt_out",
        "escalate",
        "transfer_to_human",
        "report_wrong_person",
    }
)
_MESSAGE_CHANNELS = ("sms", "whatsapp", "email")
RECENT_MESSAGES = dt.timedelta(days=7)
CALLBACK_WINDOW = dt.timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class Briefing:
    variables: dict[str, DynamicValue]
    notes: list[str] = field(default_factory=list)

    def as_variables(self) -> dict[str, DynamicValue]:
        """Everything as dynamic variables (the notes joined into ``call_notes``)."""
        return {**self.variables, "call_notes": " ".join(self.notes) or "none"}


def _locale(language: str) -> str:
    return language.replace("-", "_")


def money(amount: object, currency: str, language: str) -> str:
    try:
        return format_currency(amount, currency, locale=_locale(language))  # type: ignore[arg-type]
    except (ValueError, LookupError):
        return f"{amount} {currency}"


def facts(org: Organization, subject: CallSubject, language: str) -> dict[str, DynamicValue]:
    """The account's facts as dynamic variables, formatted for ``language``."""
    try:
        currency_name = get_currency_name(subject.currency, locale=_locale(language))
    except (ValueError, LookupError):
        currency_name = subject.currency
    values: dict[str, DynamicValue] = {
        "debtor_first_name": subject.first_name,
        "org_name": org.name,
        "language": language,
        "currency": subject.currency,
        "currency_name": currency_name,
        "pending_balance": money(subject.pending_balance, subject.currency, language),
        "pending_balance_amount": str(subject.pending_balance),
        "total_amount": money(subject.total_amount, subject.currency, language),
        "account_reference": subject.reference or "",
    }
    if subject.due_date is not None:
        try:
            values["due_date"] = format_date(
                subject.due_date, format="long", locale=_locale(language)
            )
        except (ValueError, LookupError):
            values["due_date"] = subject.due_date.isoformat()
        values["due_date_iso"] = subject.due_date.isoformat()
    else:
        values["due_date"] = ""
        values["due_date_iso"] = ""
    return values


async def continuity_notes(
    conn: AsyncConnection,
    *,
    org: Organization,
    policy: CallPolicy,
    account_ref: str,
    at: dt.datetime,
    third_party_number: bool = False,
    builtin: bool = True,
) -> list[str]:
    """How this call follows earlier contact (see the module docstring)."""
    notes: list[str] = []
    if third_party_number:
        notes.append(
            "This number was given to us by a third party: treat the call as a first "
            "contact, and confirm you are speaking with the debtor before anything else."
        )
    if builtin and await _callback_due(conn, org.id, account_ref, at):
        notes.append(
            "This is the callback the debtor asked for: say so when you greet them and "
            "continue from where the last conversation left off."
        )
    dropped = await _dropped_call(conn, org.id, account_ref, at, policy.dropped_call_minutes)
    if dropped is not None:
        notes.append(
            f"The previous call, {dropped} minute(s) ago, was cut off before it finished: "
            "apologise briefly for the interruption and pick up where it stopped."
        )
    if builtin:
        notes += await _recent_messages(conn, org.id, account_ref, at)
    return notes


async def last_interactions(
    conn: AsyncConnection, org_id: str, account_ref: str, limit: int = 3
) -> list[str]:
    """The latest interactions on the account, one short sentence each (inbound calls)."""
    rows = await conn.execute(
        select(
            interactions.c.channel,
            interactions.c.direction,
            interactions.c.status,
            interactions.c.disposition,
            interactions.c.started_at,
            interactions.c.created_at,
        )
        .where(interactions.c.org_id == org_id, interactions.c.account_id == account_ref)
        .order_by(interactions.c.created_at.desc())
        .limit(limit)
    )
    out = []
    for row in rows:
        when = (row.started_at or row.created_at).date().isoformat()
        what = row.disposition or row.status
        out.append(f"{when}: {row.direction} {row.channel}, {what.replace('_', ' ')}.")
    return out


async def _callback_due(
    conn: AsyncConnection, org_id: str, account_ref: str, at: dt.datetime
) -> bool:
    row = (
        await conn.execute(
            select(callback_requests.c.id)
            .where(
                callback_requests.c.org_id == org_id,
                callback_requests.c.account_id == account_ref,
                callback_requests.c.status == "pending",
                callback_requests.c.scheduled_for <= at + CALLBACK_WINDOW,
            )
            .limit(1)
        )
    ).first()
    return row is not None


async def _dropped_call(
    conn: AsyncConnection, org_id: str, account_ref: str, at: dt.datetime, minutes: int
) -> int | None:
    """Minutes since the last call of the account ended without an outcome, if recent."""
    row = (
        await conn.execute(
            select(call_sessions.c.call_sid, call_sessions.c.end_reason, call_sessions.c.ended_at)
            .where(
                call_sessions.c.org_id == org_id,
                call_sessions.c.account_ref == account_ref,
                call_sessions.c.ended_at.is_not(None),
                call_sessions.c.ended_at >= at - dt.timedelta(minutes=minutes),
            )
            .order_by(call_sessions.c.ended_at.desc())
            .limit(1)
        )
    ).first()
    if row is None or row.end_reason not in _DROPPED:
        return None
    used = await conn.execute(
        select(tool_calls.c.tool).where(
            tool_calls.c.org_id == org_id, tool_calls.c.call_sid == row.call_sid
        )
    )
    if any(r.tool in _OUTCOME_TOOLS for r in used):
        return None
    ended: dt.datetime = row.ended_at
    return max(1, round((at - ended).total_seconds() / 60))


async def _recent_messages(
    conn: AsyncConnection, org_id: str, account_ref: str, at: dt.datetime
) -> list[str]:
    rows = await conn.execute(
        select(
            interactions.c.channel,
            interactions.c.direction,
            interactions.c.summary,
            interactions.c.created_at,
        )
        .where(
            interactions.c.org_id == org_id,
            interactions.c.account_id == account_ref,
            interactions.c.channel.in_(_MESSAGE_CHANNELS),
            interactions.c.created_at >= at - RECENT_MESSAGES,
        )
        .order_by(interactions.c.created_at.desc())
        .limit(3)
    )
    notes = []
    for row in rows:
        when = row.created_at.date().isoformat()
        what = f" ({row.summary[:120]})" if row.summary else ""
        if row.direction == "inbound":
            notes.append(f"The debtor wrote to us by {row.channel} on {when}{what}.")
        else:
            notes.append(
                f"We sent a {row.channel} message on {when}{what}: the debtor may have it "
                "in front of them."
            )
    return notes
