"""Call sessions: parley's own record of each call, shared by every gateway process.

Why in the database and not in the gateway's memory: a call's media socket, its
tool webhooks and the post-call webhook may each reach a different process, and the
identity rule ("nothing about the debt before ``verify_identity`` succeeds; the
third wrong answer ends verification") must hold across all of them. The session is
keyed by Twilio's CallSid and exists whichever backoffice holds the account.

Identity attempts are counted with one conditional ``UPDATE`` each, so two tool
calls racing on the same call cannot both be "the second attempt".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.calls.models import CallRef
from backoffice.store.db import Database
from backoffice.store.tables import call_sessions, new_id, utcnow

UNVERIFIED = "unverified"
VERIFIED = "verified"
LOCKED = "locked"
WRONG_PERSON = "wrong_person"


@dataclass(frozen=True, slots=True)
class CallSession:
    id: str
    org_id: str
    call_sid: str
    call_ref: str | None
    direction: str
    account_ref: str | None
    contact_id: str | None
    interaction_id: str | None
    number: str | None
    language: str | None
    candidates: list[dict[str, Any]] | None
    identity_state: str
    identity_failures: int
    conversation_id: str | None
    status: str
    outcome: str | None
    end_reason: str | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    outcome_at: dt.datetime | None
    created_at: dt.datetime

    @property
    def verified(self) -> bool:
        return self.identity_state == VERIFIED

    def ref(self) -> CallRef:
        return CallRef(
            org_id=self.org_id,
            call_sid=self.call_sid,
            account_ref=self.account_ref,
            contact_id=self.contact_id,
            interaction_id=self.interaction_id,
            number=self.number,
            language=self.language or "es",
        )


def session_of(row: Any) -> CallSession:
    return CallSession(**dict(row._mapping))


async def open_session(
    db: Database,
    *,
    org_id: str,
    call_sid: str,
    direction: str,
    call_ref: str | None = None,
    account_ref: str | None = None,
    contact_id: str | None = None,
    interaction_id: str | None = None,
    number: str | None = None,
    language: str | None = None,
    candidates: list[dict[str, Any]] | None = None,
    status: str = "queued",
    now: dt.datetime | None = None,
) -> CallSession:
    """Create the session of a call, or return the existing one (a retried webhook).

    ``now`` is the business clock (rules such as "no outbound call the day the debtor
    called in" read ``created_at``); default: the wall clock.
    """
    row = {
        "id": new_id(),
        "org_id": org_id,
        "call_sid": call_sid,
        "call_ref": call_ref,
        "direction": direction,
        "account_ref": account_ref,
        "contact_id": contact_id,
        "interaction_id": interaction_id,
        "number": number,
        "language": language,
        "candidates": candidates,
        "identity_state": UNVERIFIED,
        "identity_failures": 0,
        "status": status,
        "created_at": now or utcnow(),
    }
    try:
        async with db.transaction() as conn:
            await conn.execute(insert(call_sessions), row)
    except IntegrityError:
        pass
    async with db.read() as conn:
        found = await get_session(conn, call_sid)
    assert found is not None
    return found


# Built once: every tool call reads its session, and building a select of every
# column costs more than running it.
_BY_CALL_SID = select(call_sessions).where(call_sessions.c.call_sid == bindparam("sid"))


async def get_session(conn: AsyncConnection, call_sid: str) -> CallSession | None:
    row = (await conn.execute(_BY_CALL_SID, {"sid": call_sid})).first()
    return None if row is None else session_of(row)


async def find_session(db: Database, call_sid: str) -> CallSession | None:
    async with db.read() as conn:
        return await get_session(conn, call_sid)


async def by_conversation(conn: AsyncConnection, conversation_id: str) -> CallSession | None:
    row = (
        await conn.execute(
            select(call_sessions).where(call_sessions.c.conversation_id == conversation_id)
        )
    ).first()
    return None if row is None else session_of(row)


async def update_session(db: Database, call_sid: str, **values: Any) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            update(call_sessions).where(call_sessions.c.call_sid == call_sid).values(**values)
        )


@dataclass(frozen=True, slots=True)
class IdentityOutcome:
    state: str
    failures: int
    attempts_left: int


async def record_identity_attempt(
    db: Database, call_sid: str, *, correct: bool, max_attempts: int
) -> IdentityOutcome:
    """Count one answer to the identity question.

    A correct answer verifies the call (unless it is already locked); a wrong one adds
    a failure and, at ``max_attempts``, locks verification for the rest of the call.
    """
    async with db.transaction() as conn:
        table = call_sessions.c
        if correct:
            await conn.execute(
                update(call_sessions)
                .where(table.call_sid == call_sid, table.identity_state == UNVERIFIED)
                .values(identity_state=VERIFIED)
            )
        else:
            await conn.execute(
                update(call_sessions)
                .where(table.call_sid == call_sid, table.identity_state == UNVERIFIED)
                .values(identity_failures=table.identity_failures + 1)
            )
            await conn.execute(
                update(call_sessions)
                .where(
                    table.call_sid == call_sid,
                    table.identity_state == UNVERIFIED,
                    table.identity_failures >= max_attempts,
                )
                .values(identity_state=LOCKED)
            )
        row = (
            await conn.execute(
                select(table.identity_state, table.identity_failures).where(
                    table.call_sid == call_sid
                )
            )
        ).one()
    return IdentityOutcome(
        row.identity_state, row.identity_failures, max(0, max_attempts - row.identity_failures)
    )
