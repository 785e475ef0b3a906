"""Exactly-once tool calls: a claim per ``tool_call_id``, and the result every repeat gets.

ElevenLabs may repeat a client tool call after a reconnect, and retries a server
tool webhook that timed out; the agent may call the same tool twice. Whatever the
path, the first call claims ``(org, call, tool_call_id)`` with a unique row and runs;
every repeat finds the claim and is answered with the first one's stored result (a
repeat that arrives while the first still runs waits for it, within a bound).

Why the claim is its own short transaction, before the work: the work may be an HTTP
call to a partner's system, which must never hold a database transaction (and, on
SQLite, the write lock) open. The work's own writes are atomic in the system that
does them. If the process dies between the work and the result, the claim stays
``running`` and repeats are told the action is being processed: never done twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from backoffice.store.db import Database
from backoffice.store.tables import new_id, tool_calls, utcnow

Result = dict[str, Any]

IN_PROGRESS: Result = {
    "text": "This request is still being processed; do not repeat it. Tell the caller it "
    "will be confirmed shortly.",
    "is_error": True,
}


def _key(org_id: str, call_sid: str, tool_call_id: str) -> Any:
    c = tool_calls.c
    return (c.org_id == org_id) & (c.call_sid == call_sid) & (c.tool_call_id == tool_call_id)


async def _claim(
    db: Database, org_id: str, call_sid: str, tool_call_id: str, tool: str, params: Result
) -> bool:
    try:
        async with db.transaction() as conn:
            await conn.execute(
                insert(tool_calls),
                {
                    "id": new_id(),
                    "org_id": org_id,
                    "call_sid": call_sid,
                    "tool_call_id": tool_call_id,
                    "tool": tool,
                    "parameters": params,
                    "status": "running",
                    "created_at": utcnow(),
                },
            )
    except IntegrityError:
        return False
    return True


async def _stored(
    db: Database, org_id: str, call_sid: str, tool_call_id: str, wait_s: float
) -> Result:
    deadline = time.monotonic() + wait_s
    delay = 0.01
    while True:
        async with db.read() as conn:
            row = (
                await conn.execute(
                    select(tool_calls.c.status, tool_calls.c.result).where(
                        _key(org_id, call_sid, tool_call_id)
                    )
                )
            ).first()
        if row is not None and row.status == "done" and row.result is not None:
            return dict(row.result)
        if time.monotonic() >= deadline:
            return dict(IN_PROGRESS)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


async def run_once(
    db: Database,
    *,
    org_id: str,
    call_sid: str,
    tool_call_id: str,
    tool: str,
    parameters: Result,
    work: Callable[[], Awaitable[Result]],
    wait_s: float = 5.0,
) -> tuple[Result, bool]:
    """Run ``work`` once for this tool call; returns ``(result, ran_now)``.

    A repeat returns the first run's result with ``ran_now=False``. If ``work``
    raises, the claim is released (a retry may run it again) and the error propagates.
    """
    if not await _claim(db, org_id, call_sid, tool_call_id, tool, parameters):
        return await _stored(db, org_id, call_sid, tool_call_id, wait_s), False
    try:
        result = await work()
    except BaseException:
        async with db.transaction() as conn:
            await conn.execute(delete(tool_calls).where(_key(org_id, call_sid, tool_call_id)))
        raise
    async with db.transaction() as conn:
        await conn.execute(
            update(tool_calls)
            .where(_key(org_id, call_sid, tool_call_id))
            .values(status="done", result=result, finished_at=utcnow())
        )
    return result, True


async def tools_used(db: Database, org_id: str, call_sid: str) -> list[str]:
    """The tools this call ran, in order (for the interaction's ``tools_used``)."""
    async with db.read() as conn:
        rows = await conn.execute(
            select(tool_calls.c.tool)
            .where(tool_calls.c.org_id == org_id, tool_calls.c.call_sid == call_sid)
            .order_by(tool_calls.c.created_at, tool_calls.c.id)
        )
        return [r.tool for r in rows]
