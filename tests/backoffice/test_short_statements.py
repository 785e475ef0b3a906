"""``Database.short_statements``: a tool call's statements on SQLite run on the loop's
thread, see and are seen by everything else, and keep the transaction rules."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select

from backoffice.orgs.models import OrganizationInput
from backoffice.orgs.service import create_organization
from backoffice.store.db import Database
from backoffice.store.tables import organizations


def org(name: str) -> OrganizationInput:
    return OrganizationInput(
        name=name,
        country="US",
        locale="en-US",
        timezone="America/New_York",
        contact_hours_start="08:00",
        contact_hours_end="21:00",
        contact_days=["mon", "tue", "wed", "thu", "fri"],
    )


async def names(db: Database) -> set[str]:
    async with db.read() as conn:
        return set((await conn.execute(select(organizations.c.name))).scalars())


async def test_writes_inside_and_outside_see_each_other(db: Database) -> None:
    await create_organization(db, org("Outside Ltd"))
    with db.short_statements():
        assert "Outside Ltd" in await names(db)
        await create_organization(db, org("Inside Ltd"))
    assert await names(db) == {"Outside Ltd", "Inside Ltd"}


async def half_written(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            organizations.insert().values(
                id="o" * 32,
                name="Half Written",
                country="US",
                locale="en-US",
                currency="USD",
                timezone="UTC",
                settings={},
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        raise RuntimeError("the tool failed half way")


async def test_a_failed_block_leaves_nothing(db: Database) -> None:
    with db.short_statements(), pytest.raises(RuntimeError):
        await half_written(db)
    assert "Half Written" not in await names(db)


async def insert_again(db: Database, org_id: str) -> None:
    async with db.transaction() as conn:
        query = select(organizations).where(organizations.c.id == org_id)
        row = (await conn.execute(query)).one()
        await conn.execute(organizations.insert().values(**row._asdict()))


async def test_constraint_errors_are_the_usual_ones(db: Database) -> None:
    first = await create_organization(db, org("Only Once"))
    with db.short_statements(), pytest.raises(sqlalchemy.exc.IntegrityError):
        await insert_again(db, first.id)
    async with db.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(organizations))).scalar()
    assert count == 1


async def test_a_block_inside_an_open_transaction_joins_it(db: Database) -> None:
    """No second writer (and no wait on the write lock held by the same task)."""
    async with db.transaction() as outer:
        with db.short_statements():
            async with db.transaction() as inner:
                assert inner is outer
            async with db.read() as reader:
                assert reader is outer


async def test_on_sqlite_the_statements_do_not_wait_for_the_loop(db: Database) -> None:
    """What makes a tool call answer at once on a busy gateway: no turn of the loop
    (where a hundred calls' audio is waiting) between its statements."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL's driver is asynchronous: its statements use the loop")
    await create_organization(db, org("Busy Gateway"))
    turns = 0

    def turn() -> None:
        nonlocal turns
        turns += 1

    loop = asyncio.get_running_loop()
    with db.short_statements():
        async with db.read():
            pass  # a connection in the pool, as on a running gateway
        loop.call_soon(turn)
        for _ in range(5):
            assert "Busy Gateway" in await names(db)
        async with db.transaction() as conn:
            await conn.execute(organizations.update().values(name="Still Busy"))
    assert turns == 0
    await asyncio.sleep(0)
    assert turns == 1
    assert await names(db) == {"Still Busy"}


async def test_in_memory_and_postgresql_databases_have_no_inline_engine(db: Database) -> None:
    if db.dialect == "sqlite":
        memory = await Database.open("sqlite+aiosqlite:///:memory:", migrate=False)
        try:
            assert memory.inline_engine is None
        finally:
            await memory.close()
        assert db.inline_engine is not None
    else:
        assert db.inline_engine is None
