"""Finding the principal of a request: its API key, or the session of a signed-in page.

The key travels as ``Authorization: Bearer``, ``X-API-Key`` or, for websocket clients
that cannot set headers, ``?api_key=``. Browsers use the session cookie instead (see
:mod:`backoffice.api.session`); a request that presents a key is judged by the key.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from backoffice.api.session import session_principal
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
        return await session_principal(conn, db)
    async with db.read() as read:
        return await authenticate(read, key)
