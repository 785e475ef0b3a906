"""Choosing an organization's system of record through the operator API (both databases)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backoffice.calls.records import RecordsResolver
from backoffice.calls.records_config import load_signing_secret
from backoffice.calls.remote import RemoteRecordsFactory
from backoffice.orgs.service import get_organization, update_organization
from backoffice.store.db import Database
from backoffice.store.tables import audit_log, organizations
from tests.backoffice.api_client import ApiHarness, api_harness
from tests.backoffice.calls.backends import VAULT, clock

SECRET = "the-partner-signing-secret-0123456789abcdef"
REMOTE: dict[str, Any] = {
    "kind": "remote",
    "url": "https://crm.acme.test/parley",
    "timeout_s": 1.5,
    "retries": 2,
    "signing_secret": SECRET,
}


async def _put(api: ApiHarness, body: dict[str, Any], role: str = "admin") -> Any:
    return await api.http.put("/api/org/records", json=body, headers=api.a.headers(role))


async def _stored(db: Database, org_id: str) -> tuple[dict[str, Any], str | None]:
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(organizations.c.settings, organizations.c.records_secret).where(
                    organizations.c.id == org_id
                )
            )
        ).one()
    return dict(row.settings), row.records_secret


async def test_an_organization_starts_on_parleys_own_store(db: Database) -> None:
    async with api_harness(db) as api:
        shown = await api.http.get("/api/org/records", headers=api.a.headers())
        assert shown.status_code == 200
        assert shown.json() == {
            "kind": "builtin",
            "url": None,
            "timeout_s": None,
            "retries": None,
            "signing_secret": None,
        }


async def test_an_admin_switches_to_a_remote_system_and_the_secret_stays_hidden(
    db: Database,
) -> None:
    async with api_harness(db) as api:
        saved = await _put(api, REMOTE)
        assert saved.status_code == 200, saved.text
        expected = {**REMOTE, "signing_secret": "set"}
        assert saved.json() == expected
        shown = await api.http.get("/api/org/records", headers=api.a.headers())
        assert shown.json() == expected
        assert SECRET not in saved.text + shown.text
        settings, sealed = await _stored(db, api.a.org.id)
        assert settings["calls"]["system_of_record"]["url"] == REMOTE["url"]
        assert sealed is not None and SECRET not in sealed  # encrypted at rest
        assert await load_signing_secret(db, VAULT, api.a.org.id) == SECRET.encode()


async def test_the_change_is_audited_without_the_secret(db: Database) -> None:
    async with api_harness(db) as api:
        await _put(api, REMOTE)
        await _put(api, {**REMOTE, "signing_secret": None, "retries": 0})
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    select(audit_log.c.actor, audit_log.c.action, audit_log.c.detail)
                    .where(audit_log.c.org_id == api.a.org.id)
                    .order_by(audit_log.c.at, audit_log.c.id)
                )
            ).all()
        changes = [r for r in rows if r.action == "organization.records_set"]
        assert [r.detail["signing_secret"] for r in changes] == ["replaced", "kept"]
        assert changes[0].detail["url"] == REMOTE["url"]
        assert changes[0].actor == "api:admin-key"
        assert SECRET not in repr(rows)


async def test_leaving_out_the_secret_keeps_it_and_other_call_rules_survive(
    db: Database,
) -> None:
    async with api_harness(db) as api:
        await update_organization(
            db,
            api.a.org.id,
            {"settings": {"calls": {"promise_max_days": 12}, "other": 1}},
            actor="test",
        )
        await _put(api, REMOTE)
        changed = await _put(api, {"kind": "remote", "url": "https://crm2.acme.test/p"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["signing_secret"] == "set"
        assert changed.json()["timeout_s"] == 2.5  # the default again: PUT replaces
        assert await load_signing_secret(db, VAULT, api.a.org.id) == SECRET.encode()
        settings, _ = await _stored(db, api.a.org.id)
        assert settings["calls"]["promise_max_days"] == 12
        assert settings["other"] == 1


async def test_back_to_builtin_forgets_the_url_and_the_secret(db: Database) -> None:
    async with api_harness(db) as api:
        await _put(api, REMOTE)
        back = await _put(api, {"kind": "builtin"})
        assert back.status_code == 200
        assert back.json()["kind"] == "builtin" and back.json()["signing_secret"] is None
        settings, sealed = await _stored(db, api.a.org.id)
        assert sealed is None
        assert "system_of_record" not in settings.get("calls", {})
        again = await _put(api, {"kind": "remote", "url": REMOTE["url"]})
        assert again.status_code == 422  # the old secret is gone


async def test_bad_settings_are_refused_naming_the_field_and_nothing_changes(
    db: Database,
) -> None:
    async with api_harness(db) as api:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"kind": "remote", "signing_secret": SECRET}, "url"),
            ({"kind": "remote", "url": REMOTE["url"]}, "signing_secret"),
            ({**REMOTE, "signing_secret": "short"}, "signing_secret"),
            ({**REMOTE, "url": "http://crm.acme.test/parley"}, "url"),
            ({**REMOTE, "url": "https://user:pw@crm.acme.test/parley"}, "url"),
            ({**REMOTE, "url": "https://crm.acme.test/parley?token=1"}, "url"),
            ({**REMOTE, "url": "not a url"}, "url"),
            ({**REMOTE, "timeout_s": 0}, "timeout_s"),
            ({**REMOTE, "timeout_s": 60}, "timeout_s"),
            ({**REMOTE, "retries": 9}, "retries"),
            ({"kind": "builtin", "url": REMOTE["url"]}, "url"),
            ({"kind": "elsewhere"}, "kind"),
            ({**REMOTE, "colour": "red"}, "colour"),
        ]
        before = await _stored(db, api.a.org.id)
        for body, field in cases:
            refused = await _put(api, body)
            assert refused.status_code == 422, (body, refused.text)
            fields = [e["field"] for e in refused.json()["errors"]]
            assert field in fields, (body, refused.json())
            assert SECRET not in refused.text
        assert await _stored(db, api.a.org.id) == before


async def test_plain_http_is_accepted_for_a_loopback_partner(db: Database) -> None:
    async with api_harness(db) as api:
        for url in ("http://127.0.0.1:8123/partner", "http://localhost:9/p", "http://[::1]:80/"):
            saved = await _put(api, {**REMOTE, "url": url})
            assert saved.status_code == 200, (url, saved.text)


async def test_only_an_admin_sees_or_changes_it(db: Database) -> None:
    async with api_harness(db) as api:
        await _put(api, REMOTE)
        for role in ("operator", "viewer"):
            assert (
                await api.http.get("/api/org/records", headers=api.a.headers(role))
            ).status_code == 403
            assert (await _put(api, {"kind": "builtin"}, role=role)).status_code == 403
        assert (await api.http.get("/api/org/records")).status_code == 401
        assert (await _stored(db, api.a.org.id))[1] is not None


async def test_another_organizations_setting_is_neither_seen_nor_changed(db: Database) -> None:
    async with api_harness(db) as api:
        await _put(api, REMOTE)
        before = await _stored(db, api.a.org.id)
        theirs = await api.http.get("/api/org/records", headers=api.b.headers())
        assert theirs.json()["kind"] == "builtin"
        assert REMOTE["url"] not in theirs.text
        other = "another-partner-secret-0123456789abcdefgh"
        changed = await api.http.put(
            "/api/org/records",
            json={**REMOTE, "url": "https://b.test/x", "signing_secret": other},
            headers=api.b.headers(),
        )
        assert changed.status_code == 200
        assert await _stored(db, api.a.org.id) == before
        assert await load_signing_secret(db, VAULT, api.b.org.id) == other.encode()
        assert await load_signing_secret(db, VAULT, api.a.org.id) == SECRET.encode()


async def test_the_resolver_gives_each_organization_the_system_it_chose(db: Database) -> None:
    async with api_harness(db) as api:
        await _put(api, REMOTE)
        factory = RemoteRecordsFactory(db, VAULT, clock=clock)
        try:
            resolver = RecordsResolver(db, clock, remote=factory)
            assert (await resolver.records_for(api.a.org.id)).kind == "remote"
            assert (await resolver.records_for(api.b.org.id)).kind == "builtin"
            policy = await resolver.policy(api.a.org.id)
            assert str(policy.system_of_record.kind) == "remote"
        finally:
            await factory.aclose()
        async with db.read() as conn:
            org = await get_organization(conn, api.a.org.id)
        assert org.settings["calls"]["system_of_record"]["kind"] == "remote"


async def test_the_system_of_record_is_not_switched_behind_the_records_route(
    db: Database,
) -> None:
    async with api_harness(db) as api:
        sneaky = await api.http.patch(
            "/api/org",
            json={"calls": {"system_of_record": {"kind": "remote", "url": "http://evil.test/"}}},
            headers=api.a.headers(),
        )
        assert sneaky.status_code == 422
        assert [e["field"] for e in sneaky.json()["errors"]] == ["calls.system_of_record"]
        await _put(api, REMOTE)
        shown = (await api.http.get("/api/org", headers=api.a.headers())).json()["calls"]
        # sending back the rules as shown (system of record included) changes nothing
        shown["promise_max_days"] = 9
        kept = await api.http.patch("/api/org", json={"calls": shown}, headers=api.a.headers())
        assert kept.status_code == 200, kept.text
        settings, sealed = await _stored(db, api.a.org.id)
        assert settings["calls"]["promise_max_days"] == 9
        assert settings["calls"]["system_of_record"]["url"] == REMOTE["url"]
        assert sealed is not None
        back = await api.http.patch(
            "/api/org",
            json={"calls": {"system_of_record": {"kind": "builtin"}}},
            headers=api.a.headers(),
        )
        assert back.status_code == 422
