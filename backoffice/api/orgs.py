"""Operator API: the caller's own organization and its API keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backoffice.api.framework import Api, Call, field_errors
from backoffice.calls.policy import policy_of
from backoffice.errors import FieldError, InvalidInput
from backoffice.orgs import credentials, service
from backoffice.orgs.models import DAYS, Organization
from backoffice.vault import Vault, server_secret

api = Api()


class OrganizationOut(BaseModel):
    id: str
    name: str
    country: str
    locale: str
    currency: str
    timezone: str
    contact_hours_start: str
    contact_hours_end: str
    contact_days: list[str]
    credential_mode: str
    calls: dict[str, Any] = Field(description="The call rules in effect (defaults filled in).")


class ApiKeyOut(BaseModel):
    id: str
    name: str
    role: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown once, store it now.")


class ApiKeyList(BaseModel):
    keys: list[ApiKeyOut]


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(pattern="^(admin|operator|viewer)$")


def _key_out(key: service.ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        role=key.role,
        prefix=key.prefix,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


class OrganizationPatch(BaseModel):
    """Fields to change; anything left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    locale: str | None = None
    currency: str | None = None
    timezone: str | None = None
    contact_hours_start: str | None = None
    contact_hours_end: str | None = None
    contact_days: list[str] | None = None
    calls: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Call rules to change (merged into the current ones): identity, promise limits, "
            "opening mode, voices, transfer number, system of record..."
        ),
    )


@api.route(
    "GET",
    "/api/org",
    role="viewer",
    summary="Your organization",
    tag="organization",
    response=OrganizationOut,
)
async def get_org(call: Call) -> OrganizationOut:
    async with call.db.read() as conn:
        org = await service.get_organization(conn, call.org_id)
    return _org_out(org)


@api.route(
    "PATCH",
    "/api/org",
    role="admin",
    summary="Change your organization's settings",
    tag="organization",
    body=OrganizationPatch,
    response=OrganizationOut,
)
async def update_org(call: Call) -> OrganizationOut:
    changes = call.body.model_dump(exclude_none=True)
    calls_patch = changes.pop("calls", None)
    if calls_patch is not None:
        async with call.db.read() as conn:
            current = await service.get_organization(conn, call.org_id)
        if _changes_system_of_record(current.settings, calls_patch):
            raise InvalidInput(
                [
                    FieldError(
                        "calls.system_of_record",
                        "set it with PUT /api/org/records (a remote system needs a signing "
                        "secret and an https URL)",
                    )
                ]
            )
        calls = {**(current.settings.get("calls") or {}), **calls_patch}
        changes["settings"] = {**current.settings, "calls": calls}
    try:
        org = await service.update_organization(call.db, call.org_id, changes, actor=call.actor)
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc), "invalid organization settings") from None
    return _org_out(org)


def _changes_system_of_record(settings: dict[str, Any], patch: dict[str, Any]) -> bool:
    """Whether a patch of the call rules would switch the system of record (sending back
    the one in effect, as ``GET /api/org`` shows it, changes nothing)."""
    if "system_of_record" not in patch:
        return False
    current = policy_of(settings).system_of_record
    # An invalid value reads as the default here; the full validation below names it.
    asked = policy_of({"calls": {"system_of_record": patch["system_of_record"]}})
    return asked.system_of_record != current


def _org_out(org: Organization) -> OrganizationOut:
    return OrganizationOut(
        id=org.id,
        name=org.name,
        country=org.country,
        locale=org.locale,
        currency=org.currency,
        timezone=org.timezone,
        contact_hours_start=org.contact_hours_start.strftime("%H:%M"),
        contact_hours_end=org.contact_hours_end.strftime("%H:%M"),
        contact_days=[DAYS[d] for d in sorted(org.contact_days)],
        credential_mode=org.credential_mode,
        calls=policy_of(org.settings).model_dump(mode="json"),
    )


@api.route(
    "GET",
    "/api/keys",
    role="admin",
    summary="List API keys",
    tag="organization",
    response=ApiKeyList,
)
async def list_keys(call: Call) -> ApiKeyList:
    async with call.db.read() as conn:
        keys = await service.list_api_keys(conn, call.org_id)
    return ApiKeyList(keys=[_key_out(k) for k in keys])


@api.route(
    "POST",
    "/api/keys",
    role="admin",
    summary="Create an API key",
    tag="organization",
    body=ApiKeyIn,
    response=ApiKeyCreated,
    status=201,
)
async def create_key(call: Call) -> ApiKeyCreated:
    key, plaintext = await service.create_api_key(
        call.db, call.org_id, call.body.name, call.body.role
    )
    return ApiKeyCreated(**_key_out(key).model_dump(), key=plaintext)


@api.route(
    "DELETE", "/api/keys/{key_id}", role="admin", summary="Revoke an API key", tag="organization"
)
async def revoke_key(call: Call) -> dict[str, str]:
    await service.revoke_api_key(call.db, call.org_id, call.path["key_id"])
    return {"status": "revoked"}


class CredentialsIn(BaseModel):
    mode: str = Field(description="managed (parley's keys) or byop (your own).")
    providers: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="byop keys per provider: twilio {account_sid, auth_token, from_number, "
        "whatsapp_from}, elevenlabs {api_key, agent_id}, resend {api_key, from_domain, "
        "webhook_secret (whsec_..., signs your Resend account's events)}.",
    )


class CredentialsOut(BaseModel):
    mode: str
    providers: dict[str, dict[str, str]] = Field(
        description="Masked: secrets show as 'set', ids with their last 4 characters."
    )


@api.route(
    "GET",
    "/api/org/credentials",
    role="admin",
    summary="Which provider keys your organization uses (masked)",
    tag="organization",
    response=CredentialsOut,
)
async def get_org_credentials(call: Call) -> CredentialsOut:
    async with call.db.read() as conn:
        found = await credentials.get_credentials(
            conn, Vault(server_secret(call.request)), org_id=call.org_id
        )
    return CredentialsOut(mode=found.mode, providers=found.masked())


@api.route(
    "PUT",
    "/api/org/credentials",
    role="admin",
    summary="Use parley's keys (managed) or your own (byop, encrypted at rest)",
    tag="organization",
    body=CredentialsIn,
    response=CredentialsOut,
)
async def set_org_credentials(call: Call) -> CredentialsOut:
    async with call.db.transaction() as conn:
        stored = await credentials.set_credentials(
            conn,
            Vault(server_secret(call.request)),
            org_id=call.org_id,
            mode=call.body.mode,
            providers=call.body.providers,
            actor=call.actor,
        )
    return CredentialsOut(mode=stored.mode, providers=stored.masked())
