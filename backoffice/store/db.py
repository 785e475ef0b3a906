"""One handle on the database for services: a transaction to write, a connection to read.

Services own their transaction (``async with db.transaction() as conn``); repositories
are plain async functions taking that connection. Nothing connects at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backoffice.store.engine import create_engine
from backoffice.store.migrate import upgrade


class Database:
    def __init__(self, engine: AsyncEngine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Database:
        """Connect (lazily) and, by default, bring the schema up to date."""
        if migrate:
            await upgrade(url)
        return cls(create_engine(url), url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """Everything inside commits together or not at all."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def close(self) -> None:
        await self.engine.dispose()
