"""Organizations and API keys through the operator API, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backoffice.orgs.credentials import get_credentials
from backoffice.store.db import Database
from backoffice.store.tables import audit_log, organizations
from backoffice.vault import Vault, VaultError
from tests.backoffice.api_client import api_harness


async def test_org_is_read_with_any_role_and_keys_need_admin(db: Database) -> None:
    async with api_harness(db) as api:
        for role in ("admin", "operator", "viewer"):
            response = await api.http.get("/api/org", headers=api.a.headers(role))
            assert response.status_code == 200
            assert response.json()["name"] == "Acme Collections"
            assert response.json()["currency"] == "USD"
        assert (
            await api.http.get("/api/keys", headers=api.a.headers("operator"))
        ).status_code == 403
        assert (await api.http.get("/api/keys", headers=api.a.headers("viewer"))).status_code == 403
        assert (await api.http.get("/api/org")).status_code == 401
        assert (
            await api.http.get("/api/org", headers={"X-API-Key": "pk_nope_nope"})
        ).status_code == 401


async def test_a_created_key_works_once_shown_and_stops_when_revoked(db: Database) -> None:
    async with api_harness(db) as api:
        created = await api.http.post(
            "/api/keys", json={"name": "ci", "role": "viewer"}, headers=api.a.headers()
        )
        assert created.status_code == 201
        key = created.json()["key"]
        assert key.startswith("pk_")
        listed = (await api.http.get("/api/keys", headers=api.a.headers())).json()["keys"]
        assert "key" not in listed[0]
        assert (await api.http.get("/api/org", headers={"X-API-Key": key})).status_code == 200
        revoked = await api.http.delete(
            f"/api/keys/{created.json()['id']}", headers=api.a.headers()
        )
        assert revoked.status_code == 200
        assert (await api.http.get("/api/org", headers={"X-API-Key": key})).status_code == 401


async def test_keys_of_another_organization_are_invisible(db: Database) -> None:
    async with api_harness(db) as api:
        created = await api.http.post(
            "/api/keys", json={"name": "x", "role": "viewer"}, headers=api.b.headers()
        )
        other_id = created.json()["id"]
        refused = await api.http.delete(f"/api/keys/{other_id}", headers=api.a.headers())
        assert refused.status_code == 404
        org_b = await api.http.get("/api/org", headers=api.b.headers("viewer"))
        assert org_b.json()["id"] == api.b.org.id


async def test_bad_key_request_names_the_field(db: Database) -> None:
    async with api_harness(db) as api:
        response = await api.http.post(
            "/api/keys", json={"name": "", "role": "root"}, headers=api.a.headers()
        )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"name", "role"}


async def test_openapi_describes_every_route(db: Database) -> None:
    async with api_harness(db) as api:
        spec = (await api.http.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/keys/{key_id}" in spec["paths"]
    assert set(spec["paths"]["/api/keys"]) == {"get", "post"}


async def test_admin_changes_contact_hours_and_days_with_validation(db: Database) -> None:
    async with api_harness(db) as api:
        changed = await api.http.patch(
            "/api/org",
            json={"contact_hours_start": "10:00", "contact_days": ["Sat", "sun"]},
            headers=api.a.headers(),
        )
        assert changed.status_code == 200
        assert changed.json()["contact_hours_start"] == "10:00"
        assert changed.json()["contact_days"] == ["sat", "sun"]
        assert changed.json()["contact_hours_end"] == "21:00"  # untouched
        bad = await api.http.patch(
            "/api/org",
            json={"contact_hours_end": "07:00", "timezone": "Nowhere/Land"},
            headers=api.a.headers(),
        )
        assert bad.status_code == 422
        assert "timezone" in {e["field"] for e in bad.json()["errors"]}
        by_operator = await api.http.patch(
            "/api/org", json={"name": "X"}, headers=api.a.headers("operator")
        )
        assert by_operator.status_code == 403
        unchanged_b = await api.http.get("/api/org", headers=api.b.headers())
        assert unchanged_b.json()["contact_days"] == ["mon", "tue", "wed", "thu", "fri"]


async def test_own_provider_keys_are_encrypted_at_rest_and_shown_masked(db: Database) -> None:
    token = "tw-secret-auth-token-0123456789"
    async with api_harness(db) as api:
        stored = await api.http.put(
            "/api/org/credentials",
            json={
                "mode": "byop",
                "providers": {
                    "twilio": {"account_sid": "AC" + "7" * 32, "auth_token": token},
                    "resend": {"api_key": "re_live_key_987654321", "from_domain": "mail.acme.test"},
                },
            },
            headers=api.a.headers(),
        )
        assert stored.status_code == 200, stored.text
        shown = (await api.http.get("/api/org/credentials", headers=api.a.headers())).json()
        assert shown["mode"] == "byop"
        assert shown["providers"]["twilio"] == {"account_sid": "…7777", "auth_token": "set"}
        assert shown["providers"]["resend"]["api_key"] == "set"
        assert token not in stored.text + str(shown)
        async with db.read() as conn:
            raw = (
                await conn.execute(
                    select(organizations.c.provider_keys).where(organizations.c.id == api.a.org.id)
                )
            ).scalar_one()
            audited = (
                (
                    await conn.execute(
                        select(audit_log.c.detail).where(audit_log.c.org_id == api.a.org.id)
                    )
                )
                .scalars()
                .all()
            )
        assert raw and token not in raw and "re_live_key" not in raw
        assert all(token not in str(d) for d in audited)
        async with db.read() as conn:
            opened = await get_credentials(
                conn,
                Vault(b"parley-development-secret-key-do-not-use-in-production"),
                org_id=api.a.org.id,
            )
        assert opened.providers["twilio"]["auth_token"] == token
        with pytest.raises(VaultError):
            async with db.read() as conn:
                await get_credentials(
                    conn, Vault(b"another-server-secret-000"), org_id=api.a.org.id
                )
        other = (await api.http.get("/api/org/credentials", headers=api.b.headers())).json()
        assert other == {"mode": "managed", "providers": {}}
        for role in ("operator", "viewer"):
            denied = await api.http.get("/api/org/credentials", headers=api.a.headers(role))
            assert denied.status_code == 403


async def test_incomplete_own_keys_are_refused_naming_the_field(db: Database) -> None:
    async with api_harness(db) as api:
        refused = await api.http.put(
            "/api/org/credentials",
            json={"mode": "byop", "providers": {"twilio": {"account_sid": "AC1"}, "fax": {}}},
            headers=api.a.headers(),
        )
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.json()["errors"]}
    assert fields == {"providers.twilio.auth_token", "providers.fax"}
