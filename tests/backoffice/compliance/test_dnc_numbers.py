"""A number opted out by phone stays blocked, even for contacts that arrive later."""

from __future__ import annotations

import datetime as dt

from backoffice.compliance.check import Reason, may_contact
from backoffice.store.db import Database
from tests.backoffice.api_client import api_harness
from tests.backoffice.factories import make_account, make_contact, make_contact_phone

# A Wednesday, 15:00 in New York: inside the US test organization's hours.
WEDNESDAY_AFTERNOON = dt.datetime(2026, 11, 18, 20, 0, tzinfo=dt.UTC)


async def test_a_listed_number_blocks_a_contact_imported_later(db: Database) -> None:
    async with api_harness(db) as api:
        bulk = await api.http.post(
            "/api/admin/opt-out/bulk",
            json={"phones": ["(212) 555-0147"], "reason": "asked on a call to another agency"},
            headers=api.a.headers("operator"),
        )
        assert bulk.status_code == 200
        assert bulk.json()["numbers_listed"] == 1
        assert bulk.json()["counts"]["not_found"] == 1

        later = await make_contact(db, api.a.org.id, name="Late Arrival")
        await make_contact_phone(db, api.a.org.id, later, "+12125550147", source="import")
        clean = await make_contact(db, api.a.org.id, name="Clean", phone="+12125550148")
        async with db.read() as conn:
            call = await may_contact(
                conn, org_id=api.a.org.id, contact_id=later, channel="call", at=WEDNESDAY_AFTERNOON
            )
            email = await may_contact(
                conn, org_id=api.a.org.id, contact_id=later, channel="email", at=WEDNESDAY_AFTERNOON
            )
            other = await may_contact(
                conn, org_id=api.a.org.id, contact_id=clean, channel="sms", at=WEDNESDAY_AFTERNOON
            )
        assert not call.allowed
        assert call.reason is Reason.DNC_LISTED
        assert "+12125550147" in call.message
        assert call.next_allowed_at is None
        assert email.allowed  # a phone list does not cover email
        assert other.allowed


async def test_the_list_is_read_by_operators_and_edited_by_admins_only(db: Database) -> None:
    async with api_harness(db) as api:
        await api.http.post(
            "/api/admin/dnc",
            content="phone\n2125550199\n",
            headers={**api.a.headers("operator"), "Content-Type": "text/csv"},
        )
        listed = await api.http.get("/api/admin/dnc", headers=api.a.headers("operator"))
        assert listed.status_code == 200
        assert [n["number"] for n in listed.json()["numbers"]] == ["+12125550199"]
        assert listed.json()["numbers"][0]["source"] == "dnc"
        other_org = await api.http.get("/api/admin/dnc", headers=api.b.headers())
        assert other_org.json()["total"] == 0

        path = "/api/admin/dnc/%2B12125550199?reason=listed+by+mistake"
        assert (await api.http.delete(path, headers=api.a.headers("operator"))).status_code == 403
        assert (await api.http.delete(path, headers=api.b.headers())).status_code == 404
        removed = await api.http.delete(path, headers=api.a.headers())
        assert removed.status_code == 200
        after = await api.http.get("/api/admin/dnc", headers=api.a.headers())
        assert after.json()["total"] == 0
        audit = await api.http.get(
            "/api/audit?action=dnc.removed", headers=api.a.headers("operator")
        )
        assert audit.json()["items"][0]["reason"] == "listed by mistake"


async def test_an_opt_out_drops_the_accounts_priority_at_once(db: Database) -> None:
    async with api_harness(db) as api:
        contact = await make_contact(db, api.a.org.id, name="Rescored", phone="+12125550150")
        account = await make_account(db, api.a.org.id, contact, total_amount="900.00")
        scored = await api.http.post(
            f"/api/accounts/{account}/priority", headers=api.a.headers("operator")
        )
        assert scored.json()["score"] > 0
        await api.http.post(
            f"/api/contacts/{contact}/opt-out",
            json={"reason": "asked to stop"},
            headers=api.a.headers("operator"),
        )
        after = (await api.http.get(f"/api/accounts/{account}", headers=api.a.headers())).json()
        assert after["priority_score"] == 0
