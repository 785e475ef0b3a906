"""``after_commit``: derived bookkeeping that follows a transaction without holding it up.

A tool call answers the agent, then the account's priority is rescored: the follow-up
must see what the transaction wrote, never run for a transaction that rolled back, and
a failing follow-up must not touch what was committed nor the process.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.orgs.service import create_organization
from backoffice.store.db import Database, after_commit
from backoffice.store.tables import organizations
from tests.backoffice.test_short_statements import org


async def names(conn: AsyncConnection) -> set[str]:
    return set((await conn.execute(select(organizations.c.name))).scalars())


async def test_follow_up_runs_after_the_commit_and_sees_it(db: Database) -> None:
    seen: list[set[str]] = []

    async def follow_up(database: Database) -> None:
        async with database.read() as conn:
            seen.append(await names(conn))

    async with db.transaction() as conn:
        assert after_commit(conn, follow_up)
        await create_organization(db, org("Committed Ltd"))  # joins the transaction
        assert seen == []
    assert seen == []  # not yet: the caller goes on first
    await db.settle()
    assert seen == [{"Committed Ltd"}]


async def test_nothing_follows_a_rolled_back_transaction(db: Database) -> None:
    ran: list[str] = []

    async def follow_up(database: Database) -> None:
        ran.append("ran")

    async def failing_action() -> None:
        async with db.transaction() as conn:
            after_commit(conn, follow_up)
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        await failing_action()
    await db.settle()
    assert ran == []


async def test_outside_a_transaction_the_caller_is_told_to_do_it_now(db: Database) -> None:
    async def follow_up(database: Database) -> None:
        raise AssertionError("must not be queued")

    async with db.read() as conn:
        assert after_commit(conn, follow_up) is False
    await db.settle()


async def test_a_failing_follow_up_leaves_the_commit_and_the_next_one(db: Database) -> None:
    ran: list[str] = []

    async def broken(database: Database) -> None:
        raise RuntimeError("derived value could not be computed")

    async def fine(database: Database) -> None:
        ran.append("fine")

    async with db.transaction() as conn:
        after_commit(conn, broken)
        after_commit(conn, fine)
        await create_organization(db, org("Kept Ltd"))
    await db.settle()
    assert ran == ["fine"]
    async with db.read() as conn:
        assert await names(conn) == {"Kept Ltd"}


async def test_close_waits_for_follow_ups(database_url: str) -> None:
    database = await Database.open(database_url)
    done: list[str] = []

    async def follow_up(db: Database) -> None:
        await create_organization(db, org("Late Ltd"))
        done.append("done")

    async with database.transaction() as conn:
        after_commit(conn, follow_up)
    await database.close()
    assert done == ["done"]
