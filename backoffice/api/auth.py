"""Finding the principal of a request from its API key.

The key travels as ``Authorization: Bearer``, ``X-API-Key`` or, for browser
websockets and pages that cannot set headers, ``?api_key=``.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from backoffice.orgs.service import Principal, authenticate
from backoffice.store.db import Database


def presented_key(conn: HTTPConnection) -> str:
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return conn.headers.get("x-api-key", "") or conn.query_params.get("api_key", "")


async def principal_of(conn: HTTPConnection, db: Database) -> Principal | None:
    key = presented_key(conn)
    if not key:
        return None
    async with db.read() as read:
        return await authenticate(read, key)
