"""The database engine: SQLite (embedded default) or PostgreSQL, from one URL.

``PARLEY_DATABASE_URL`` unset means a SQLite file in the working directory. The same
SQLAlchemy Core code runs on both; only connection set-up differs (SQLite needs
foreign keys switched on and WAL for concurrent readers).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backoffice.store.sqlite_inline import inline_connector

DEFAULT_URL = "sqlite+aiosqlite:///parley.db"


class DatabaseUrlError(ValueError):
    """``PARLEY_DATABASE_URL`` names a database parley does not support."""


def async_url(url: str) -> str:
    """Normalise a user-given URL to its async driver (``postgresql://`` -> asyncpg).

    Raises:
        DatabaseUrlError: for anything but SQLite and PostgreSQL.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise DatabaseUrlError(f"PARLEY_DATABASE_URL: unsupported database {backend!r}")


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL; None for PostgreSQL and for in-memory databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def create_engine(url: str = DEFAULT_URL, *, inline: bool = False, **kwargs: Any) -> AsyncEngine:
    """``inline``: a SQLite engine whose statements run on the event loop's thread
    (:mod:`backoffice.store.sqlite_inline`); only for URLs naming a file."""
    if inline:
        path = sqlite_file(url)
        if path is None:
            raise DatabaseUrlError("an inline engine needs a SQLite file")
        kwargs["async_creator"] = inline_connector(path)
    engine = create_async_engine(async_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
