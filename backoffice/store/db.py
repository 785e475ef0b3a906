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
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backoffice.store.engine import create_engine, sqlite_file
from backoffice.store.migrate import upgrade

log = structlog.get_logger(__name__)

#: Work to run once a transaction has committed, given the database to open its own.
FollowUp = Callable[["Database"], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class _Open:
    """The transaction the current task has open (tasks it spawns do not join it)."""

    database: Database
    task: asyncio.Task[object] | None
    conn: AsyncConnection
    follow_ups: list[FollowUp] = field(default_factory=list)


def after_commit(conn: AsyncConnection, job: FollowUp) -> bool:
    """Run ``job`` in a task of its own once ``conn``'s transaction has committed.

    For bookkeeping derived from what the transaction wrote that the caller need not
    wait for (a tool call answers the agent before the account's priority is
    rescored). Nothing runs if the transaction rolls back. The job opens its own
    transaction; if the process stops before it runs, the derived value stays stale
    until it is next recomputed, so only derived values belong here.

    Returns False, queueing nothing, when ``conn`` is not a transaction opened by
    :meth:`Database.transaction` in this task: the caller then does the work inline.
    """
    current = _open.get()
    if current is None or current.conn is not conn:
        return False
    if current.task is not asyncio.current_task():
        return False
    current.follow_ups.append(job)
    return True


_open: ContextVar[_Open | None] = ContextVar("parley_open_transaction", default=None)
_short: ContextVar[bool] = ContextVar("parley_short_statements", default=False)


class Database:
    def __init__(self, engine: AsyncEngine, url: str, inline: AsyncEngine | None = None) -> None:
        self.engine = engine
        self.url = url
        #: SQLite on the loop's thread, for :meth:`short_statements` blocks.
        self.inline_engine = inline
        # SQLite has one writer at a time. Left to itself, a second writer waits in
        # SQLite's busy handler, which sleeps in growing steps (up to 100 ms each) and
        # gives up after its timeout; queueing writers here instead hands the lock on
        # the moment it is free, in order. Readers are not queued (WAL snapshots).
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._follow_ups: set[asyncio.Task[None]] = set()

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Database:
        """Connect (lazily) and, by default, bring the schema up to date."""
        if migrate:
            await upgrade(url)
        inline = create_engine(url, inline=True) if sqlite_file(url) else None
        return cls(create_engine(url), url, inline)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def short_statements(self) -> Iterator[None]:
        """The block's own transactions and reads are a few short statements.

        On SQLite they then run inline on the event loop's thread rather than one
        driver-thread round trip per statement (:mod:`backoffice.store.sqlite_inline`):
        a tool call answers in a millisecond or two however busy the loop is.
        PostgreSQL's driver is asynchronous already and is unaffected. Tasks started
        inside the block inherit it.
        """
        token = _short.set(True)
        try:
            yield
        finally:
            _short.reset(token)

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        inline = self.inline_engine
        if inline is None or not _short.get():
            async with self.engine.connect() as conn:
                yield conn
            return
        # Not ``async with``: SQLAlchemy closes there in a task of its own (so that a
        # cancellation cannot cut the close short), which costs a turn of the loop.
        # An inline close never suspends, so it cannot be cut short anyway.
        conn = await inline.connect()
        try:
            yield conn
        finally:
            await conn.close()

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
            async with self._connect() as conn, conn.begin():
                opened = _Open(self, asyncio.current_task(), conn)
                token = _open.set(opened)
                try:
                    yield conn
                finally:
                    _open.reset(token)
        finally:
            if lock is not None:
                lock.release()
        for job in opened.follow_ups:
            self._start_follow_up(job)

    def _start_follow_up(self, job: FollowUp) -> None:
        # Background work: on the driver's thread, not inline on the loop, even when
        # queued from a short-statements block (a job may open its own short one).
        context = contextvars.copy_context()
        context.run(_short.set, False)
        task = asyncio.get_running_loop().create_task(self._run_follow_up(job), context=context)
        self._follow_ups.add(task)
        task.add_done_callback(self._follow_ups.discard)

    async def _run_follow_up(self, job: FollowUp) -> None:
        try:
            await job(self)
        except Exception:
            # The transaction it follows has committed; a failure here leaves a
            # derived value stale, which the next full recomputation repairs.
            log.exception("db.follow_up_failed")

    async def settle(self) -> None:
        """Wait until the work queued by :func:`after_commit` has run (tests, shutdown)."""
        while self._follow_ups:
            await asyncio.gather(*self._follow_ups, return_exceptions=True)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        async with self._connect() as conn:
            yield conn

    async def close(self) -> None:
        await self.settle()
        await self.engine.dispose()
        if self.inline_engine is not None:
            await self.inline_engine.dispose()
