"""The migrations build exactly the schema the code queries against, on both databases.

``backoffice/store/tables.py`` is what every query is written against; the Alembic
migrations are what a real database gets. If the two drift apart, a column the code
writes is missing in production, so the comparison is a test, not a habit.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from backoffice.store.db import Database
from backoffice.store.migrate import downgrade, upgrade
from backoffice.store.tables import metadata


def _differences(sync_conn: Connection) -> list[Any]:
    context = MigrationContext.configure(sync_conn)
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_tables_module(db: Database) -> None:
    async with db.read() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []


async def test_the_call_tools_migration_goes_down_and_up_again(db: Database) -> None:
    await downgrade(db.url, "0003_dnc")
    async with db.read() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert "tool_calls" not in tables
    await upgrade(db.url)
    async with db.read() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM tool_calls"))).scalar()
    assert count == 0
