"""Supervisor sockets keep checking their credentials for as long as they stream.

Why: a supervisor's key or session is checked when ``WS /live`` or a listen-in socket
opens, but such a socket can stay open for a whole shift. Revoking the key, signing
out, the session growing too old or the key's organization changing must end what it
streams too, not only its next connection: an operator who revokes a leaked key
expects the calls it was watching (debtors' names, amounts, their very voices) to stop
reaching it. So every ``PARLEY_LIVE_RECHECK_S`` the credentials the socket was opened
with are checked again, by the very check of the upgrade (:func:`principal_of`:
revocation, sign-out, age, the role read afresh), and the socket is closed with 1008
once they no longer hold.

A database that cannot answer for a moment does not end a supervisor's view: that
check is logged and the next one decides.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import HTTPConnection

from backoffice.api.auth import principal_of
from backoffice.orgs.service import Principal
from backoffice.store.db import Database

log = structlog.get_logger(__name__)

CREDENTIALS_LAPSED = 1008  # policy violation, as at the upgrade
LAPSED_REASON = "credentials no longer valid"


async def until_lapsed(
    conn: HTTPConnection, db: Database, principal: Principal, every_s: float
) -> None:
    """Return once the credentials ``conn`` was opened with no longer give ``principal``'s
    organization (checked every ``every_s``); never returns while they hold."""
    while True:
        await asyncio.sleep(every_s)
        try:
            now = await principal_of(conn, db)
        except (SQLAlchemyError, OSError) as exc:
            log.warning(
                "live.recheck_failed",
                org_id=principal.org_id,
                key_id=principal.key_id,
                error=type(exc).__name__,
            )
            continue
        if now is None or now.org_id != principal.org_id or now.key_id != principal.key_id:
            log.info("live.credentials_lapsed", org_id=principal.org_id, key_id=principal.key_id)
            return


__all__ = ["CREDENTIALS_LAPSED", "LAPSED_REASON", "until_lapsed"]
