"""Alembic environment: the URL comes from parley's settings, the engine is async."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from backoffice.store.engine import create_engine
from backoffice.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _online(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


url = context.config.attributes.get("database_url") or context.config.get_main_option(
    "sqlalchemy.url"
)
if not url:
    raise RuntimeError("no database URL given to the migrations")
if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online(url))
