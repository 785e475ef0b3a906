"""Talking to the operator API in tests: two organizations, a key of each role.

The app is the backoffice's own routes on the ``db`` fixture (SQLite or PostgreSQL),
served in-process through httpx's ASGI transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette
from starlette.requests import Request

from backoffice.api.app import routes
from backoffice.orgs.models import Organization, OrganizationInput
from backoffice.orgs.service import create_api_key, create_organization
from backoffice.store.db import Database


@dataclass
class Tenant:
    org: Organization
    admin: str
    operator: str
    viewer: str

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


@dataclass
class ApiHarness:
    http: httpx.AsyncClient
    db: Database
    a: Tenant
    b: Tenant


async def make_tenant(db: Database, data: OrganizationInput) -> Tenant:
    org = await create_organization(db, data)
    keys = {}
    for role in ("admin", "operator", "viewer"):
        _, keys[role] = await create_api_key(db, org.id, f"{role}-key", role)
    return Tenant(org, keys["admin"], keys["operator"], keys["viewer"])


US_ORG = OrganizationInput(
    name="Acme Collections",
    country="US",
    locale="en-US",
    timezone="America/New_York",
    contact_hours_start="08:00",
    contact_hours_end="21:00",
    contact_days=["mon", "tue", "wed", "thu", "fri", "sat"],
)
ES_ORG = OrganizationInput(
    name="Cobros Ibérica", country="ES", locale="es-ES", timezone="Europe/Madrid"
)


@asynccontextmanager
async def api_harness(
    db: Database, a: OrganizationInput = US_ORG, b: OrganizationInput = ES_ORG
) -> AsyncIterator[ApiHarness]:
    def database(request: Request) -> Database:
        return db

    app = Starlette(routes=routes(database))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://parley.test") as http:
        yield ApiHarness(http, db, await make_tenant(db, a), await make_tenant(db, b))
