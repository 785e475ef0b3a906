"""The imports API on both databases: upload forms, roles, tenancy, errors, OpenAPI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from backoffice.api import imports
from backoffice.store.db import Database
from backoffice.store.tables import accounts, audit_log
from tests.backoffice.api_client import api_harness
from tests.backoffice.portfolio.helpers import FIXTURES
from tests.backoffice.portfolio.test_import_files import ROWS, latin1_csv

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAPPING = {
    "contact_name": "Nombre",
    "total_amount": "Importe",
    "pending_balance": "Saldo pendiente",
    "due_date": "Vencimiento",
    "external_id": "Código cliente",
    "phone": "Teléfono",
    "document": "DNI",
}


async def org_ids(db: Database) -> list[str]:
    async with db.read() as conn:
        return [r.org_id for r in await conn.execute(select(accounts.c.org_id))]


async def test_preview_then_import_through_the_api(db: Database, tmp_path: Path) -> None:
    body = latin1_csv(tmp_path, ROWS).read_bytes()
    async with api_harness(db) as api:
        spain = api.b.headers("operator")
        preview = await api.http.post(
            "/api/imports/preview?rows=3",
            content=body,
            headers={**spain, "Content-Type": "text/csv"},
        )
        assert preview.status_code == 200, preview.text
        data = preview.json()
        assert data["details"] == {"encoding": "cp1252", "delimiter": ";"}
        assert data["missing_required"] == []
        assert data["columns"][0] == {
            "index": 0,
            "header": "Nombre",
            "field": "contact_name",
            "confidence": 1.0,
        }
        assert [r["row"] for r in data["rows"]] == [2, 3, 4]
        assert data["rows"][2]["errors"][0]["field"] == "contact_name"
        assert "12345678Z" not in preview.text  # documents never come back whole

        mapping = dict(data["mapping"])
        imported = await api.http.post(
            "/api/imports",
            params={"mapping": json.dumps(mapping), "filename": "cartera.csv"},
            content=body,
            headers={**spain, "Content-Type": "application/octet-stream"},
        )
        assert imported.status_code == 200, imported.text
        report = imported.json()
        assert (report["inserted"], report["rejected_rows"]) == (5, 5)
        assert report["rejected"][0] == {
            "row": 4,
            "field": "contact_name",
            "column": "Nombre",
            "reason": "required: the contact's name",
        }
        assert set(await org_ids(db)) == {api.b.org.id}  # all in B, none in A

        async with db.read() as conn:
            entry = (
                await conn.execute(
                    select(audit_log).where(audit_log.c.action == "portfolio.import")
                )
            ).one()
        assert (entry.org_id, entry.actor) == (api.b.org.id, "api:operator-key")
        assert entry.detail["source"] == "cartera.csv" and entry.detail["inserted"] == 5


async def test_multipart_upload_with_the_mapping_as_a_part(db: Database) -> None:
    async with api_harness(db) as api:
        files = {"file": ("cartera.xlsx", (FIXTURES / "cartera_es.xlsx").read_bytes(), XLSX)}
        mapping = {
            "contact_name": "Nombre y apellidos",
            "total_amount": "Importe",
            "external_id": "Código cliente",
        }
        response = await api.http.post(
            "/api/imports",
            files=files,
            data={"mapping": json.dumps(mapping)},
            headers=api.b.headers("admin"),
        )
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["format"] == "xlsx" and report["header_row"] == 3
        assert report["mapping"] == mapping
        assert report["inserted"] == 7  # without the email/phone/date columns, fewer refusals
        assert set(await org_ids(db)) == {api.b.org.id}

        preview = await api.http.post(
            "/api/imports/preview", files=files, headers=api.b.headers("operator")
        )
        assert preview.status_code == 200
        assert preview.json()["rows"][0]["action"] == "update"  # C-0001 is on file now


async def test_viewers_and_strangers_cannot_import(db: Database, tmp_path: Path) -> None:
    body = latin1_csv(tmp_path, ROWS).read_bytes()
    async with api_harness(db) as api:
        viewer = {**api.a.headers("viewer"), "Content-Type": "text/csv"}
        for path in ("/api/imports/preview", f"/api/imports?mapping={json.dumps(MAPPING)}"):
            assert (await api.http.post(path, content=body, headers=viewer)).status_code == 403
            assert (await api.http.post(path, content=body)).status_code == 401
        sync = await api.http.post(
            "/api/accounts/sync",
            json=[{"external_id": "1", "contact_name": "x", "total_amount": 1}],
            headers=api.a.headers("viewer"),
        )
        assert sync.status_code == 403
        assert await org_ids(db) == []


async def test_bad_requests_name_the_field(db: Database, tmp_path: Path) -> None:
    body = latin1_csv(tmp_path, ROWS).read_bytes()
    async with api_harness(db) as api:
        headers = {**api.b.headers("operator"), "Content-Type": "text/csv"}

        async def post(path: str, content: bytes = body, **kw: str) -> tuple[int, set[str]]:
            response = await api.http.post(path, content=content, headers={**headers, **kw})
            fields = {e["field"] for e in response.json().get("errors", [])}
            return response.status_code, fields

        assert await post("/api/imports") == (422, {"mapping"})
        assert await post("/api/imports?mapping=[1]") == (422, {"mapping"})
        bad = json.dumps({"contact_name": "Nombre", "total_amount": "Total", "phon": 2})
        assert await post(f"/api/imports?mapping={bad}") == (
            422,
            {"mapping.total_amount", "mapping.phon"},
        )
        assert await post("/api/imports/preview", b"") == (422, {"file"})
        assert await post("/api/imports/preview", b"%PDF-1.4 ...") == (422, {"file"})
        assert await post(
            "/api/imports/preview", b"{}", **{"Content-Type": "application/json"}
        ) == (
            400,
            {"file"},
        )
        assert await post("/api/imports/preview?rows=0") == (422, {"rows"})
        assert await org_ids(db) == []


async def test_sync_api_is_idempotent_and_per_organization(db: Database) -> None:
    items = [
        {"external_id": "A-1", "contact_name": "Mary Smith", "total_amount": "1,234.50"},
        {"external_id": "A-2", "contact_name": "John Roe", "total_amount": 99, "email": "nope"},
    ]
    async with api_harness(db) as api:
        first = await api.http.post(
            "/api/accounts/sync", json=items, headers=api.a.headers("operator")
        )
        assert first.status_code == 200, first.text
        assert first.json() == {
            "dry_run": False,
            "received": 2,
            "inserted": 1,
            "updated": 0,
            "unchanged": 0,
            "rejected_items": 1,
            "rejected": [{"index": 1, "field": "email", "reason": "not an email address: 'nope'"}],
            "rejected_left_out": 0,
            "warnings": [],
        }
        again = await api.http.post("/api/accounts/sync", json=items, headers=api.a.headers())
        assert (again.json()["inserted"], again.json()["unchanged"]) == (0, 1)
        other = await api.http.post("/api/accounts/sync", json=items, headers=api.b.headers())
        assert other.json()["inserted"] == 1  # B's own A-1, not A's
        assert sorted(await org_ids(db)) == sorted([api.a.org.id, api.b.org.id])

        wrong_shape = await api.http.post(
            "/api/accounts/sync",
            json=[{"external_id": "A-3", "total_amount": {"value": 1}}],
            headers=api.a.headers(),
        )
        assert wrong_shape.status_code == 422
        assert {e["field"] for e in wrong_shape.json()["errors"]} >= {"0.total_amount"}
        too_many = await api.http.post(
            "/api/accounts/sync", json=[{}] * 10_001, headers=api.a.headers()
        )
        assert too_many.status_code == 422


async def test_openapi_documents_the_import_routes(db: Database) -> None:
    async with api_harness(db) as api:
        spec = (await api.http.get("/api/openapi.json")).json()
    upload = spec["paths"]["/api/imports"]["post"]
    assert "text/csv" in upload["requestBody"]["content"]
    params = {p["name"]: p for p in upload["parameters"]}
    assert {"mapping", "dry_run", "filename"} <= set(params)
    assert "contact_name" in params["mapping"]["description"]
    assert "/api/imports/preview" in spec["paths"]
    sync = spec["paths"]["/api/accounts/sync"]["post"]
    assert "application/json" in sync["requestBody"]["content"]


async def test_an_upload_over_the_limit_is_refused(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 1000)
    async with api_harness(db) as api:
        response = await api.http.post(
            "/api/imports/preview",
            content=b"Nombre;Importe\n" + b"Ana;1\n" * 1000,
            headers={**api.b.headers("operator"), "Content-Type": "text/csv"},
        )
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]
