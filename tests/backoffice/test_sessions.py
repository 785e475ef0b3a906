"""Signed sessions: a cookie that acts for its key, and only as long as the key does."""

from __future__ import annotations

from backoffice.api.session import SESSION_COOKIE, SessionSigner
from backoffice.orgs.service import Principal, authenticate, list_api_keys, revoke_api_key
from backoffice.store.db import Database
from config.settings import StoreSettings
from tests.backoffice.api_client import api_harness

PATCH = {"contact_hours_end": "20:00"}


# The harness app has no settings, so it signs with the development default secret.
DEFAULT_SECRET = StoreSettings.model_fields["secret_key"].default.get_secret_value().encode()


async def session_for(db: Database, key: str) -> tuple[str, str]:
    """A session cookie of ``key`` as the sign-in page issues it, and its CSRF token."""
    async with db.read() as read:
        principal = await authenticate(read, key)
    assert principal is not None
    token, session = SessionSigner(DEFAULT_SECRET).issue(principal)
    return token, session.csrf


async def test_a_session_reads_like_its_key_and_changes_only_with_the_csrf_token(
    db: Database,
) -> None:
    async with api_harness(db) as h:
        token, csrf = await session_for(db, h.a.admin)
        h.http.cookies.set(SESSION_COOKIE, token)
        org = await h.http.get("/api/org")
        no_token = await h.http.patch("/api/org", json=PATCH)
        wrong = await h.http.patch("/api/org", json=PATCH, headers={"X-CSRF-Token": "x" + csrf})
        right = await h.http.patch("/api/org", json=PATCH, headers={"X-CSRF-Token": csrf})
    assert org.status_code == 200 and org.json()["id"] == h.a.org.id
    assert no_token.status_code == 401 and "X-CSRF-Token" in no_token.json()["error"]
    assert wrong.status_code == 401
    assert right.status_code == 200 and right.json()["contact_hours_end"] == "20:00"


async def test_a_session_keeps_its_keys_role_and_organization(db: Database) -> None:
    async with api_harness(db) as h:
        token, csrf = await session_for(db, h.b.viewer)
        h.http.cookies.set(SESSION_COOKIE, token)
        own = await h.http.get("/api/org")
        change = await h.http.patch("/api/org", json=PATCH, headers={"X-CSRF-Token": csrf})
    assert own.json()["id"] == h.b.org.id
    assert change.status_code == 403  # a viewer's session is a viewer


async def test_revoking_the_key_ends_its_sessions_at_once(db: Database) -> None:
    async with api_harness(db) as h:
        token, _ = await session_for(db, h.a.operator)
        h.http.cookies.set(SESSION_COOKIE, token)
        before = await h.http.get("/api/accounts")
        async with db.read() as read:
            keys = {k.name: k.id for k in await list_api_keys(read, h.a.org.id)}
        await revoke_api_key(db, h.a.org.id, keys["operator-key"])
        after = await h.http.get("/api/accounts")
    assert before.status_code == 200
    assert after.status_code == 401


async def test_forged_tampered_and_foreign_secret_cookies_are_refused(db: Database) -> None:
    async with api_harness(db) as h:
        token, _ = await session_for(db, h.a.admin)
        async with db.read() as read:
            principal = await authenticate(read, h.a.admin)
        assert principal is not None
        other_server, _ = SessionSigner(b"another-server-secret-0000").issue(principal)
        answers = []
        for value in (token[:-2] + "xx", other_server, "garbage", token.replace(".", "", 1)):
            h.http.cookies.set(SESSION_COOKIE, value)
            answers.append((await h.http.get("/api/org")).status_code)
    assert answers == [401, 401, 401, 401]


def test_an_expired_session_is_refused() -> None:
    signer = SessionSigner(b"server-secret-for-expiry", ttl_s=-1)
    token, _ = signer.issue(Principal("org", "admin", "key", "name"))
    assert signer.read(token) is None
    assert SessionSigner(b"server-secret-for-expiry").read(token) is not None
