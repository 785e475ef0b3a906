"""Calls whose post-call webhook never came: fetch ElevenLabs' report instead.

ElevenLabs does not retry post-call webhooks, so a lost one would leave a call
without transcript and disposition forever. The operator can fetch one call's report
(``POST /api/calls/{ref}/fetch-transcript``), and a sweep does it periodically for
every call that ended a while ago with a conversation but no analysis yet.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import structlog
from sqlalchemy import select

from backoffice.calls.sessions import CallSession, session_of
from backoffice.store.tables import call_sessions
from gateway.post_call import MalformedReport, parse_report, store_report
from gateway.services import Services

log = structlog.get_logger(__name__)

SETTLE = dt.timedelta(minutes=2)  # give the webhook its chance first
GIVE_UP = dt.timedelta(days=7)
BATCH = 20


class NotReady(Exception):
    """ElevenLabs has not finished processing the conversation yet."""


async def fetch_report(services: Services, session: CallSession) -> bool:
    """Fetch and store one call's report; True when stored.

    Raises:
        NotReady: the conversation is still being processed.
        LookupError: the call has no conversation, or ElevenLabs does not know it.
    """
    if not session.conversation_id:
        raise LookupError("the call has no agent conversation")
    data = await services.elevenlabs.conversation(session.conversation_id)
    if data.get("status") not in ("done", "failed"):
        raise NotReady(str(data.get("status")))
    try:
        report = parse_report(data, source="fetch")
    except MalformedReport as exc:
        raise LookupError(f"ElevenLabs answered an unreadable conversation ({exc})") from None
    return await store_report(services, report)


async def sweep_once(services: Services, now: dt.datetime | None = None) -> int:
    """Fetch the reports of calls left without one; returns how many were stored.

    ``now`` is wall-clock time (calls' end times are), not the business clock.
    """
    now = now or dt.datetime.now(dt.UTC)
    async with services.database.read() as conn:
        rows = await conn.execute(
            select(call_sessions)
            .where(
                call_sessions.c.conversation_id.is_not(None),
                call_sessions.c.outcome_at.is_(None),
                call_sessions.c.ended_at.is_not(None),
                call_sessions.c.ended_at <= now - SETTLE,
                call_sessions.c.ended_at >= now - GIVE_UP,
            )
            .order_by(call_sessions.c.ended_at)
            .limit(BATCH)
        )
        sessions = [session_of(r) for r in rows]
    stored = 0
    for session in sessions:
        try:
            stored += await fetch_report(services, session)
        except NotReady:
            continue
        except Exception as exc:
            log.warning(
                "post_call.fetch_failed",
                call_sid=session.call_sid,
                org_id=session.org_id,
                error=str(exc)[:200],
            )
    return stored


async def sweep_forever(services: Services, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            stored = await sweep_once(services)
        except Exception:
            log.exception("post_call.sweep_failed")
            continue
        if stored:
            log.info("post_call.swept", stored=stored)
