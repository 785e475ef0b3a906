"""Operator API: which system of record the organization's calls use (docs/partner-api.md).

Admin only: it decides where the agent reads balances and writes promises, and it
holds the secret that signs those requests. The secret is write-only: answers say
only whether one is set.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from backoffice.api.framework import Api, Call
from backoffice.calls.policy import RemoteRecordsConfig
from backoffice.calls.records_config import (
    MAX_SECRET,
    RecordsSettings,
    get_records_settings,
    set_records_settings,
)
from backoffice.vault import Vault, server_secret

api = Api()


class RecordsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["builtin", "remote"] = Field(
        description="builtin (parley's own store) or remote (your own system, over HTTPS)."
    )
    url: str | None = Field(
        default=None, max_length=2000, description="remote: base URL of your partner API."
    )
    timeout_s: float | None = Field(
        default=None, description="remote: limit of one attempt, in seconds (default 2.5)."
    )
    retries: int | None = Field(
        default=None, description="remote: retries of a failed attempt (default 1)."
    )
    signing_secret: str | None = Field(
        default=None,
        max_length=MAX_SECRET,
        description="remote: the HMAC signing secret (32+ characters). Write-only; leave "
        "out to keep the stored one.",
    )


class RecordsOut(BaseModel):
    kind: str
    url: str | None = None
    timeout_s: float | None = None
    retries: int | None = None
    signing_secret: Literal["set"] | None = Field(
        default=None, description="'set' when a secret is stored; it is never shown."
    )


def _out(found: RecordsSettings) -> RecordsOut:
    config = found.config
    secret: Literal["set"] | None = "set" if found.secret_set else None
    if isinstance(config, RemoteRecordsConfig):
        return RecordsOut(
            kind="remote",
            url=str(config.url),
            timeout_s=config.timeout_s,
            retries=config.retries,
            signing_secret=secret,
        )
    return RecordsOut(kind="builtin", signing_secret=secret)


@api.route(
    "GET",
    "/api/org/records",
    role="admin",
    summary="Which system of record your calls use (the secret masked)",
    tag="organization",
    response=RecordsOut,
)
async def get_records(call: Call) -> RecordsOut:
    async with call.db.read() as conn:
        return _out(await get_records_settings(conn, call.org_id))


@api.route(
    "PUT",
    "/api/org/records",
    role="admin",
    summary="Use parley's own store, or your own system of record over signed HTTPS",
    tag="organization",
    body=RecordsIn,
    response=RecordsOut,
)
async def put_records(call: Call) -> RecordsOut:
    body: RecordsIn = call.body
    stored = await set_records_settings(
        call.db,
        Vault(server_secret(call.request)),
        org_id=call.org_id,
        kind=body.kind,
        url=body.url,
        timeout_s=body.timeout_s,
        retries=body.retries,
        signing_secret=body.signing_secret,
        actor=call.actor,
    )
    return _out(stored)
