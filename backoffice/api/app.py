"""All operator API endpoints in one list, plus the OpenAPI description.

Adding a group of endpoints means adding its ``Api`` to :data:`GROUPS`.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backoffice.api import accounts, compliance, imports, messaging, optouts, orgs, records
from backoffice.api.framework import Api, Endpoint
from backoffice.api.openapi import openapi
from backoffice.store.db import Database

GROUPS: list[Api] = [
    orgs.api,
    records.api,
    accounts.api,
    imports.api,
    optouts.api,
    compliance.api,
    messaging.api,
]
VERSION = "0.1.0"


def endpoints() -> list[Endpoint]:
    return [e for group in GROUPS for e in group.endpoints]


def routes(
    database: Callable[[Request], Database], extra: list[Endpoint] | None = None
) -> list[Route]:
    """The backoffice routes; ``extra`` endpoints (the gateway's) join the OpenAPI."""
    everything = endpoints() + (extra or [])
    description = openapi(everything, title="parley operator API", version=VERSION)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(description)

    out = [Route("/api/openapi.json", openapi_json, methods=["GET"])]
    for group in GROUPS:
        out += group.routes(database)
    return out
