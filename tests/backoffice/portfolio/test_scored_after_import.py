"""Imported accounts are scored, so the call list is in priority order at once."""

from __future__ import annotations

from backoffice.store.db import Database
from tests.backoffice.api_client import api_harness


async def test_synced_accounts_come_out_scored_and_ordered(db: Database) -> None:
    accounts = [
        {
            "external_id": "SMALL",
            "contact_name": "Small Debt",
            "total_amount": "50.00",
            "phone": "+12125550160",
            "due_date": "2026-11-10",
        },
        {
            "external_id": "BIG",
            "contact_name": "Big Debt",
            "total_amount": "9000.00",
            "phone": "+12125550161",
            "due_date": "2026-06-01",
        },
    ]
    async with api_harness(db) as api:
        synced = await api.http.post(
            "/api/accounts/sync", json=accounts, headers=api.a.headers("operator")
        )
        assert synced.status_code == 200, synced.text
        assert synced.json()["inserted"] == 2
        listed = (await api.http.get("/api/accounts", headers=api.a.headers())).json()["items"]
        assert all(item["priority_score"] is not None for item in listed)
        assert [item["external_id"] for item in listed] == ["BIG", "SMALL"]
        dry = await api.http.post(
            "/api/accounts/sync?dry_run=true",
            json=[{**accounts[0], "external_id": "NEW"}],
            headers=api.a.headers("operator"),
        )
        assert dry.json()["inserted"] == 1
        again = (await api.http.get("/api/accounts", headers=api.a.headers())).json()
        assert again["total"] == 2
