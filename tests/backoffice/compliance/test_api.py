"""The compliance routes of the operator API on SQLite and PostgreSQL: what each role
may do, what each route answers, and that one organization never sees another's."""

from __future__ import annotations

import csv
import datetime as dt
import io

import httpx

from backoffice.store.db import Database
from tests.backoffice.api_client import ApiHarness, api_harness
from tests.backoffice.factories import make_account, make_contact, make_interaction

UTC = dt.UTC
MORNING = dt.datetime(2026, 6, 15, 14, 30, tzinfo=UTC)  # Monday 10:30 EDT, 07:30 PDT


async def _opted_out(api: ApiHarness, contact_id: str) -> bool:
    response = await api.http.get(
        "/api/admin/opt-out", params={"page_size": 200}, headers=api.a.headers("viewer")
    )
    return contact_id in {item["contact_id"] for item in response.json()["items"]}


async def test_an_operator_opts_a_contact_out_and_a_viewer_sees_it(db: Database) -> None:
    async with api_harness(db) as api:
        contact = await make_contact(db, api.a.org.id, name="Ana", phone="+12125550100")
        path = f"/api/contacts/{contact}/opt-out"
        refused = await api.http.post(path, json={"reason": "x"}, headers=api.a.headers("viewer"))
        assert refused.status_code == 403
        done = await api.http.post(
            path, json={"reason": "asked by phone"}, headers=api.a.headers("operator")
        )
        assert done.status_code == 200
        body = done.json()
        assert body["opted_out"] is True
        assert body["reason"] == "asked by phone"
        assert body["opted_out_by"] == "api:operator-key"
        listed = await api.http.get("/api/admin/opt-out", headers=api.a.headers("viewer"))
        assert listed.status_code == 200
        page = listed.json()
        assert (page["total"], page["page"], page["page_size"]) == (1, 1, 25)
        assert page["items"][0]["contact_id"] == contact
        assert page["items"][0]["opted_out_at"].endswith("Z")
        empty = await api.http.post(path, json={"reason": ""}, headers=api.a.headers())
        assert empty.status_code == 422
        assert empty.json()["errors"][0]["field"] == "reason"


async def test_bulk_opt_out_reports_matched_not_found_and_invalid(db: Database) -> None:
    async with api_harness(db) as api:
        ana = await make_contact(db, api.a.org.id, phone="+12125550100")
        await make_contact(db, api.b.org.id, phone="+12125550100")
        response = await api.http.post(
            "/api/admin/opt-out/bulk",
            json={"phones": ["(212) 555-0100", "415 555 0199", "nope"], "reason": "DNC"},
            headers=api.a.headers("operator"),
        )
        assert response.status_code == 200
        report = response.json()
        assert report["counts"] == {"matched": 1, "not_found": 1, "invalid": 1}
        assert report["matched"][0]["contact_ids"] == [ana]
        assert report["matched"][0]["e164"] == "+12125550100"
        assert report["not_found"][0]["e164"] == "+14155550199"
        assert report["invalid"][0] == {
            "value": "nope",
            "line": None,
            "e164": None,
            "contact_ids": [],
            "reason": "not a phone number",
        }
        assert report["contacts_opted_out"] == 1
        viewer = await api.http.post(
            "/api/admin/opt-out/bulk",
            json={"phones": ["2125550100"], "reason": "DNC"},
            headers=api.a.headers("viewer"),
        )
        assert viewer.status_code == 403
        bad = await api.http.post(
            "/api/admin/opt-out/bulk", json={"phones": [], "reason": ""}, headers=api.a.headers()
        )
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"phones", "reason"}


async def test_only_an_admin_undoes_an_opt_out(db: Database) -> None:
    async with api_harness(db) as api:
        contact = await make_contact(db, api.a.org.id)
        await api.http.post(
            f"/api/contacts/{contact}/opt-out", json={"reason": "r"}, headers=api.a.headers()
        )
        path = f"/api/admin/opt-out/{contact}"
        for role in ("viewer", "operator"):
            assert (await api.http.delete(path, headers=api.a.headers(role))).status_code == 403
        undone = await api.http.delete(
            path, params={"reason": "consented again"}, headers=api.a.headers()
        )
        assert undone.status_code == 200
        assert not await _opted_out(api, contact)
        again = await api.http.delete(path, headers=api.a.headers())
        assert again.status_code == 404
        audit = await api.http.get(
            "/api/audit",
            params={"entity_type": "contact", "entity_id": contact},
            headers=api.a.headers("operator"),
        )
        actions = [(e["action"], e["reason"]) for e in audit.json()["items"]]
        assert actions == [("contact.opt_out_undo", "consented again"), ("contact.opt_out", "r")]


async def test_a_dnc_file_is_uploaded_raw_or_as_a_form(db: Database) -> None:
    async with api_harness(db) as api:
        ana = await make_contact(db, api.a.org.id, phone="+12125550100")
        luis = await make_contact(db, api.a.org.id, whatsapp="+14155550199")
        text = "phone,name\r\n212-555-0100,Ana\r\n\r\nbad,Nobody\r\n"
        raw = await api.http.post(
            "/api/admin/dnc",
            content=text.encode(),
            headers={**api.a.headers("operator"), "Content-Type": "text/csv"},
        )
        assert raw.status_code == 200
        report = raw.json()
        assert report["counts"] == {"matched": 1, "not_found": 0, "invalid": 1}
        assert report["matched"][0]["line"] == 2
        assert report["invalid"][0]["line"] == 4
        form = await api.http.post(
            "/api/admin/dnc",
            params={"reason": "state DNC registry"},
            files={"file": ("dnc.txt", b"4155550199, 3055550123\n", "text/plain")},
            headers=api.a.headers("operator"),
        )
        assert form.status_code == 200
        assert form.json()["counts"] == {"matched": 1, "not_found": 1, "invalid": 0}
        listed = await api.http.get("/api/admin/opt-out", headers=api.a.headers("viewer"))
        reasons = {i["contact_id"]: i["reason"] for i in listed.json()["items"]}
        assert reasons == {ana: "on a do-not-contact list", luis: "state DNC registry"}
        viewer = await api.http.post(
            "/api/admin/dnc", content=b"2125550100", headers=api.a.headers("viewer")
        )
        assert viewer.status_code == 403


async def test_the_check_answers_for_the_contacts_local_time(db: Database) -> None:
    async with api_harness(db) as api:
        pacific = await make_contact(db, api.a.org.id, timezone="America/Los_Angeles")
        account = await make_account(db, api.a.org.id, pacific, status="paid")
        response = await api.http.get(
            "/api/compliance/check",
            params={"contact_id": pacific, "channel": "call", "at": MORNING.isoformat()},
            headers=api.a.headers("viewer"),
        )
        assert response.status_code == 200
        decision = response.json()
        assert decision["allowed"] is False
        assert decision["reason"] == "outside_hours"
        assert decision["local_time"] == "2026-06-15T07:30:00-07:00"
        assert decision["next_allowed_at"] == "2026-06-15T15:00:00Z"
        assert "07:30 PDT" in decision["message"]
        paid = await api.http.get(
            "/api/compliance/check",
            params={"contact_id": pacific, "account_id": account, "channel": "email"},
            headers=api.a.headers("viewer"),
        )
        assert paid.json()["reason"] == "account_status"
        bad = await api.http.get(
            "/api/compliance/check",
            params={"contact_id": pacific, "channel": "fax", "at": "2026-06-15T10:00:00"},
            headers=api.a.headers("viewer"),
        )
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"channel", "at"}


async def test_the_report_and_its_csv(db: Database) -> None:
    async with api_harness(db) as api:
        pacific = await make_contact(
            db, api.a.org.id, name="=HYPERLINK(evil)", timezone="America/Los_Angeles"
        )
        eastern = await make_contact(db, api.a.org.id, name="East")
        outside = await make_interaction(db, api.a.org.id, contact_id=pacific, started_at=MORNING)
        inside = await make_interaction(db, api.a.org.id, contact_id=eastern, started_at=MORNING)
        params = {"from": "2026-06-15", "to": "2026-06-15"}
        response = await api.http.get(
            "/api/compliance/report", params=params, headers=api.a.headers("viewer")
        )
        assert response.status_code == 200
        report = response.json()
        assert report["summary"]["total"] == 2
        assert report["summary"]["outbound_outside_allowed_hours"] == 1
        verdicts = {r["interaction_id"]: r["within_allowed_hours"] for r in report["rows"]}
        assert verdicts == {outside: False, inside: True}
        paged = await api.http.get(
            "/api/compliance/report",
            params={**params, "page": 2, "page_size": 1},
            headers=api.a.headers("viewer"),
        )
        assert len(paged.json()["rows"]) == 1
        assert paged.json()["summary"]["total"] == 2

        exported = await api.http.get(
            "/api/compliance/report.csv", params=params, headers=api.a.headers("viewer")
        )
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert "attachment" in exported.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        by_id = {r["interaction_id"]: r for r in rows}
        assert by_id[outside]["within_allowed_hours"] == "no"
        assert by_id[outside]["local_time"] == "2026-06-15T07:30:00-07:00"
        assert by_id[outside]["contact_name"] == "'=HYPERLINK(evil)"
        assert by_id[inside]["within_allowed_hours"] == "yes"

        backwards = await api.http.get(
            "/api/compliance/report.csv",
            params={"from": "2026-06-15", "to": "2026-06-01"},
            headers=api.a.headers("viewer"),
        )
        assert backwards.status_code == 422
        missing = await api.http.get("/api/compliance/report", headers=api.a.headers())
        assert {e["field"] for e in missing.json()["errors"]} == {"from", "to"}


async def test_the_audit_log_is_for_operators_and_admins(db: Database) -> None:
    async with api_harness(db) as api:
        contact = await make_contact(db, api.a.org.id)
        await api.http.post(
            f"/api/contacts/{contact}/opt-out", json={"reason": "r"}, headers=api.a.headers()
        )
        assert (
            await api.http.get("/api/audit", headers=api.a.headers("viewer"))
        ).status_code == 403
        for role in ("operator", "admin"):
            response = await api.http.get("/api/audit", headers=api.a.headers(role))
            assert response.status_code == 200
            entry = response.json()["items"][0]
            assert entry["actor"] == "api:admin-key"
            assert entry["detail"] == {"source": "individual"}
        filtered = await api.http.get(
            "/api/audit", params={"entity_id": "nothing"}, headers=api.a.headers()
        )
        assert filtered.json() == {"items": [], "total": 0, "page": 1, "page_size": 50}


async def test_one_organization_never_reaches_anothers_records(db: Database) -> None:
    """Every compliance route, with organization A's key on organization B's records."""
    async with api_harness(db) as api:
        theirs = await make_contact(
            db, api.b.org.id, phone="+12125550100", timezone="America/New_York"
        )
        their_account = await make_account(db, api.b.org.id, theirs)
        await make_interaction(db, api.b.org.id, contact_id=theirs, started_at=MORNING)
        b, a = api.b.headers(), api.a.headers()
        await api.http.post(f"/api/contacts/{theirs}/opt-out", json={"reason": "r"}, headers=b)
        mine = await make_contact(db, api.a.org.id)

        async def status(method: str, url: str, **kwargs: object) -> httpx.Response:
            return await api.http.request(method, url, headers=a, **kwargs)  # type: ignore[arg-type]

        assert (
            await status("POST", f"/api/contacts/{theirs}/opt-out", json={"reason": "r"})
        ).status_code == 404
        assert (await status("DELETE", f"/api/admin/opt-out/{theirs}")).status_code == 404
        check = {"contact_id": theirs, "channel": "call"}
        assert (await status("GET", "/api/compliance/check", params=check)).status_code == 404
        cross_account = {"contact_id": mine, "account_id": their_account, "channel": "call"}
        assert (
            await status("GET", "/api/compliance/check", params=cross_account)
        ).status_code == 404
        listed = (await status("GET", "/api/admin/opt-out")).json()
        assert listed["total"] == 0
        bulk = await status(
            "POST", "/api/admin/opt-out/bulk", json={"phones": ["2125550100"], "reason": "r"}
        )
        assert bulk.json()["counts"]["matched"] == 0
        dnc = await status("POST", "/api/admin/dnc", content=b"+12125550100\n")
        assert dnc.json()["counts"]["matched"] == 0
        period = {"from": "2026-06-01", "to": "2026-06-30"}
        report = (await status("GET", "/api/compliance/report", params=period)).json()
        assert report["summary"]["total"] == 0
        exported = await status("GET", "/api/compliance/report.csv", params=period)
        assert len(exported.text.strip().splitlines()) == 1  # the header only
        audit = (await status("GET", "/api/audit", params={"entity_id": theirs})).json()
        assert audit["total"] == 0
        # B's records are intact and B still sees them.
        still = await api.http.get("/api/admin/opt-out", headers=b)
        assert [i["contact_id"] for i in still.json()["items"]] == [theirs]
        their_report = await api.http.get("/api/compliance/report", params=period, headers=b)
        assert their_report.json()["summary"]["total"] == 1


async def test_openapi_lists_the_compliance_routes(db: Database) -> None:
    async with api_harness(db) as api:
        paths = (await api.http.get("/api/openapi.json")).json()["paths"]
    assert set(paths["/api/admin/opt-out"]) == {"get"}
    assert set(paths["/api/admin/opt-out/bulk"]) == {"post"}
    assert set(paths["/api/admin/opt-out/{contact_id}"]) == {"delete"}
    for path in (
        "/api/contacts/{contact_id}/opt-out",
        "/api/admin/dnc",
        "/api/compliance/check",
        "/api/compliance/report",
        "/api/compliance/report.csv",
        "/api/audit",
    ):
        assert path in paths
