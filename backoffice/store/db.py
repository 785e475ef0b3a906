"""One handle on the database for services: a transaction to write, a connection to read.

Services own their transaction (``async with db.transaction() as conn``); repositories
are plain async functions taking that connection. Nothing connects at import time.

Transactions nest by joining: a service called inside another service's transaction
(the same task) gets the same connection, so the caller decides what commits
together. A tool call, for instance, claims its ``tool_call_id``, registers the
promise and stores its result in one transaction (one commit). Reads inside a
transaction see it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backoffice.store.engine import create_engine
from backoffice.store.migrate import upgrade


@dataclass(frozen=True, slots=True)
class _Open:
    """The transaction the current task has open (tasks it spawns do not join it)."""

    database: Database
    task: asyncio.Task[object] | None
    conn: AsyncConnection


_open: ContextVar[_Open | None] = ContextVar("parley_open_transaction", default=None)


class Database:
    def __init__(self, engine: AsyncEngine, url: str) -> None:
        self.engine = engine
        self.url = url
        # SQLite has one writer at a time. Left to itself, a second writer waits in
        # SQLite's busy handler, which sleeps in growing steps (up to 100 ms each) and
        # gives up after its timeout; queueing writers here instead hands the lock on
        # the moment it is free, in order. Readers are not queued (WAL snapshots).
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Database:
        """Connect (lazily) and, by default, bring the schema up to date."""
        if migrate:
            await upgrade(url)
        return cls(create_engine(url), url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _joined(self) -> AsyncConnection | None:
        current = _open.get()
        if current is None or current.database is not self:
            return None
        if current.task is not asyncio.current_task():
            return None
        return current.conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """Everything inside commits together or not at all."""
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        lock = self._write_lock
        if lock is not None:
            await lock.acquire()
        try:
            async with self.engine.begin() as conn:
                token = _open.set(_Open(self, asyncio.current_task(), conn))
                try:
                    yield conn
                finally:
                    _open.reset(token)
        finally:
            if lock is not None:
                lock.release()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        async with self.engine.connect() as conn:
            yield conn

    async def close(self) -> None:
        await self.engine.dispose()
