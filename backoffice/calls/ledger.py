"""Exactly-once tool calls: a claim per ``tool_call_id``, and the result every repeat gets.

ElevenLabs may repeat a client tool call after a reconnect, and retries a server
tool webhook that timed out; the agent may call the same tool twice. Whatever the
path, the first call claims ``(org, call, tool_call_id)`` with a unique row and runs;
every repeat finds the claim and is answered with the first one's stored result (a
repeat that arrives while the first still runs waits for it, within a bound).

For work on parley's own store the claim, the work and its result are one
transaction: a promise and the record that it was made commit together or not at
all. Work that calls a partner's system over HTTP must never hold a database
transaction (and, on SQLite, the write lock) open: its claim commits first and is
released if the work fails. If the process dies between that work and its result,
the claim stays ``running`` and repeats are told the action is being processed:
never done twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

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


# The statements every tool call runs, built once (building costs more than running).
_c = tool_calls.c
_BOUND_KEY = (
    (_c.org_id == bindparam("k_org"))
    & (_c.call_sid == bindparam("k_call"))
    & (_c.tool_call_id == bindparam("k_tool_call"))
)
_CLAIM: dict[str, Any] = {
    "postgresql": pg_insert(tool_calls).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(tool_calls).on_conflict_do_nothing(),
}
_FINISH = update(tool_calls).where(_BOUND_KEY)
_STORED = select(tool_calls.c.status, tool_calls.c.result).where(_BOUND_KEY)


def _bound(org_id: str, call_sid: str, tool_call_id: str) -> dict[str, str]:
    return {"k_org": org_id, "k_call": call_sid, "k_tool_call": tool_call_id}


def _claim_row(
    org_id: str, call_sid: str, tool_call_id: str, tool: str, params: Result
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "org_id": org_id,
        "call_sid": call_sid,
        "tool_call_id": tool_call_id,
        "tool": tool,
        "parameters": params,
        "status": "running",
        "created_at": utcnow(),
    }


async def _claim(conn: AsyncConnection, row: dict[str, Any]) -> bool:
    """Insert the claim unless it exists; True when this call made it.

    ``ON CONFLICT DO NOTHING`` rather than catching the unique violation: on
    PostgreSQL a violation aborts the whole transaction, and a concurrent claimant
    waits for the first one's transaction to end, then sees the row.
    """
    statement = _CLAIM.get(conn.dialect.name, insert(tool_calls))
    result = await conn.execute(statement, row)
    return bool(result.rowcount)


class _Undo(Exception):
    """Roll the tool call's transaction back: its handler did not complete."""

    def __init__(self, result: Result) -> None:
        super().__init__("tool call did not complete")
        self.result = result


async def _stored(
    db: Database, org_id: str, call_sid: str, tool_call_id: str, wait_s: float
) -> Result:
    deadline = time.monotonic() + wait_s
    delay = 0.01
    while True:
        async with db.read() as conn:
            row = (await conn.execute(_STORED, _bound(org_id, call_sid, tool_call_id))).first()
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
    atomic: bool = True,
) -> tuple[Result, bool]:
    """Run ``work`` once for this tool call; returns ``(result, ran_now)``.

    A repeat returns the first run's result with ``ran_now=False``. A result marked
    ``failed`` (the handler crashed or timed out) is not stored, so a retry may run.

    Args:
        atomic: claim, work and result in one transaction (the work's own
            transactions join it): for work on this database. False for work that
            calls out (a partner's HTTP API), which must not hold a transaction open:
            the claim then commits first, and is released again if the work fails.
    """
    row = _claim_row(org_id, call_sid, tool_call_id, tool, parameters)
    if atomic:
        try:
            async with db.transaction() as conn:
                if await _claim(conn, row):
                    result = await work()
                    if result.get("failed"):
                        raise _Undo(result)
                    await _finish(conn, org_id, call_sid, tool_call_id, result)
                    return result, True
        except _Undo as undo:
            return undo.result, True
        return await _stored(db, org_id, call_sid, tool_call_id, wait_s), False
    async with db.transaction() as conn:
        claimed = await _claim(conn, row)
    if not claimed:
        return await _stored(db, org_id, call_sid, tool_call_id, wait_s), False
    try:
        result = await work()
    except BaseException:
        await _release(db, org_id, call_sid, tool_call_id)
        raise
    if result.get("failed"):
        await _release(db, org_id, call_sid, tool_call_id)
        return result, True
    async with db.transaction() as conn:
        await _finish(conn, org_id, call_sid, tool_call_id, result)
    return result, True


async def _finish(
    conn: AsyncConnection, org_id: str, call_sid: str, tool_call_id: str, result: Result
) -> None:
    await conn.execute(
        _FINISH,
        {
            **_bound(org_id, call_sid, tool_call_id),
            "status": "done",
            "result": result,
            "finished_at": utcnow(),
        },
    )


async def _release(db: Database, org_id: str, call_sid: str, tool_call_id: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(delete(tool_calls).where(_key(org_id, call_sid, tool_call_id)))


async def tools_used(db: Database, org_id: str, call_sid: str) -> list[str]:
    """The tools this call ran, in order (for the interaction's ``tools_used``)."""
    async with db.read() as conn:
        rows = await conn.execute(
            select(tool_calls.c.tool)
            .where(tool_calls.c.org_id == org_id, tool_calls.c.call_sid == call_sid)
            .order_by(tool_calls.c.created_at, tool_calls.c.id)
        )
        return [r.tool for r in rows]
