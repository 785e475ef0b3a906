"""Signed sessions for the operator pages: sign in once with an API key, then a cookie.

A browser cannot put an API key in a header of a page load or a websocket upgrade,
and a key in a URL ends up in history and logs. So the sign-in page takes the key
once and answers with a session cookie: the key's id, organization and a CSRF token,
signed (HMAC-SHA256 by ``itsdangerous``, with a key derived from ``PARLEY_SECRET_KEY``
by HKDF under a label of its own) and timestamped. The key itself is never in it.

Every request carrying the cookie is checked again, in order:

- the signature and age (:data:`SESSION_TTL_S`);
- for a change (any HTTP method but GET/HEAD/OPTIONS), the ``X-CSRF-Token`` header
  must equal the session's token: the pages read it from their own HTML, which
  another site cannot;
- for a websocket, the ``Origin`` must be this server's own (browsers send cookies on
  cross-site websocket upgrades that ``SameSite`` does not always stop);
- the key must still exist and not be revoked, and its role is read afresh: revoking
  a key ends its sessions at once.

The cookie is ``HttpOnly`` (scripts cannot read it), ``SameSite=Strict`` and, when the
public URL is https, ``Secure``. Signing out deletes it from the browser and records
the session as signed out (:func:`end_session`, in the shared database: every gateway
process sees it), so a copy of the cookie taken before, in another tab or on another
machine, is refused from then on too. A supervisor socket already open (``WS /live``,
listen-in) checks its session again every ``PARLEY_LIVE_RECHECK_S`` and is closed once
it no longer holds (``gateway/live_access.py``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import HTTPConnection
from starlette.responses import Response

from backoffice.orgs.service import Principal, principal_of_key
from backoffice.store.db import Database
from backoffice.store.tables import signed_out_sessions, utcnow
from backoffice.vault import server_secret

SESSION_COOKIE = "parley_session"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL_S = 12 * 3600  # seconds
LABEL = b"parley operator sessions v1"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Session:
    """What the cookie says: which key signed in, for which organization."""

    key_id: str
    org_id: str
    csrf: str
    #: When the cookie was signed (None for one just issued: now).
    issued_at: dt.datetime | None = None

    @property
    def digest(self) -> str:
        """What a signed-out session is remembered by (its random token, hashed)."""
        return hashlib.sha256(self.csrf.encode()).hexdigest()


class SessionSigner:
    """Issues and reads session cookies with a key of its own from the server secret."""

    def __init__(self, server_secret: bytes, ttl_s: int = SESSION_TTL_S) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LABEL).derive(
            server_secret
        )
        self._serializer = URLSafeTimedSerializer(derived, salt="session")
        self.ttl_s = ttl_s

    def issue(self, principal: Principal) -> tuple[str, Session]:
        session = Session(principal.key_id, principal.org_id, secrets.token_urlsafe(24))
        token = self._serializer.dumps([session.key_id, session.org_id, session.csrf])
        return token, session

    def read(self, token: str) -> Session | None:
        """The session in ``token``, or None when forged, malformed or expired."""
        try:
            value, signed_at = self._serializer.loads(
                token, max_age=self.ttl_s, return_timestamp=True
            )
        except BadSignature:
            return None
        if not (isinstance(value, list) and len(value) == 3):
            return None
        if not all(isinstance(v, str) and v for v in value):
            return None
        return Session(value[0], value[1], value[2], signed_at)


@functools.lru_cache(maxsize=4)
def _signer(secret: bytes) -> SessionSigner:
    return SessionSigner(secret)


def signer_for(conn: HTTPConnection) -> SessionSigner:
    """The signer of the app serving ``conn`` (keyed by its server secret)."""
    return _signer(server_secret(conn))


def session_of(conn: HTTPConnection) -> Session | None:
    """The session the request's cookie carries (signature and age checked only)."""
    token = conn.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > 1000:
        return None
    return signer_for(conn).read(token)


async def session_principal(conn: HTTPConnection, db: Database) -> Principal | None:
    """The principal of a request authenticated by its session cookie, or None.

    See the module docstring for every check made.
    """
    session = session_of(conn)
    if session is None:
        return None
    if conn.scope["type"] == "http":
        if conn.scope["method"] not in SAFE_METHODS:
            presented = conn.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(presented.encode(), session.csrf.encode()):
                return None
    elif not same_origin(conn):
        return None
    async with db.read() as read:
        if (await read.execute(_SIGNED_OUT, {"digest": session.digest})).first() is not None:
            return None
        return await principal_of_key(read, session.key_id, session.org_id)


_SIGNED_OUT = select(signed_out_sessions.c.digest).where(
    signed_out_sessions.c.digest == bindparam("digest")
)


async def end_session(db: Database, session: Session) -> None:
    """Refuse this session from now on, wherever its cookie is presented.

    Remembered until the cookie would have expired anyway; expired entries are
    dropped as new ones are written. Signing out twice is harmless.
    """
    now = utcnow()
    signed = session.issued_at or now
    try:
        async with db.transaction() as conn:
            await conn.execute(
                delete(signed_out_sessions).where(signed_out_sessions.c.expires_at < now)
            )
            await conn.execute(
                signed_out_sessions.insert(),
                {
                    "digest": session.digest,
                    "org_id": session.org_id,
                    "expires_at": signed + dt.timedelta(seconds=SESSION_TTL_S),
                    "created_at": now,
                },
            )
    except IntegrityError:
        pass  # already signed out


def same_origin(conn: HTTPConnection) -> bool:
    """Whether the request's ``Origin`` is the server it was sent to."""
    origin = conn.headers.get("origin", "")
    host = conn.headers.get("host", "")
    return bool(origin and host) and urlsplit(origin).netloc == host


def set_session_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_TTL_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure
    )
