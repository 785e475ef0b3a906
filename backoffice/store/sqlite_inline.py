"""SQLite on the event loop's own thread, for the short statements of a live call.

aiosqlite runs each statement on a driver thread and hands the answer back through
the event loop: every statement costs at least one turn of the loop. On a gateway
carrying a hundred calls a turn takes milliseconds, so a tool call of ten statements
waited tens of milliseconds for work that takes a few hundred microseconds. A
connection that runs ``sqlite3`` inline answers at once instead. It is only for short
statements (a tool call's reads and its one small write transaction): anything long
would hold up the loop, and stays on the threaded driver.

SQLAlchemy's aiosqlite dialect drives this connection unchanged (it is handed over as
``async_creator``): it needs the awaitable methods of an ``aiosqlite.Connection`` and
its cursor, which here complete without ever suspending.

The busy timeout is short on purpose: within one process, writers already queue on
:class:`~backoffice.store.db.Database`'s lock, so SQLite is only busy when another
process writes (``parley import`` from the command line), and waiting for it here
would stall every call on the loop. The tool then fails as "unavailable", which the
agent can say.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

#: Seconds SQLite may wait for another process's write lock before giving up.
BUSY_TIMEOUT_S = 0.25


class InlineCursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if size is None:
            return self._cursor.fetchmany()
        return self._cursor.fetchmany(size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    async def close(self) -> None:
        self._cursor.close()


class _OpenCursor:
    """What ``aiosqlite.Connection.cursor()`` returns: an awaitable context manager."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def __aenter__(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __await__(self) -> Any:
        return self.__aenter__().__await__()


class _InlineQueue:
    """SQLAlchemy sets the isolation level through aiosqlite's private work queue."""

    __slots__ = ()

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting caller, as aiosqlite does
            future.set_exception(error)


class InlineConnection:
    """The part of ``aiosqlite.Connection`` SQLAlchemy uses, without the thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn
        self._tx = _InlineQueue()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> _OpenCursor:
        return _OpenCursor(self._conn)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def inline_connector(path: str) -> Callable[[], Any]:
    """``async_creator`` for ``create_async_engine``: a new inline connection to ``path``."""

    async def connect() -> InlineConnection:
        # check_same_thread off: the pool may close a connection from the GC's thread.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        return InlineConnection(conn)

    return connect
