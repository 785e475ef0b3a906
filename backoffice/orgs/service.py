"""Organizations and operator API keys.

Keys look like ``pk_<12 hex>_<secret>``: the prefix finds the row, and only a SHA-256
of the whole key is stored (keys are long random strings, so a fast hash is enough,
as for GitHub tokens). A key has one role: ``admin`` (everything), ``operator``
(portfolio work, calls, opt-outs) or ``viewer`` (read only). Revocation is immediate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice import audit
from backoffice.errors import NotFound
from backoffice.orgs.models import (
    DAYS,
    Organization,
    OrganizationInput,
    format_days,
    parse_days,
    parse_hhmm,
)
from backoffice.store.db import Database
from backoffice.store.tables import api_keys, new_id, organizations, utcnow

ROLE_RANK = {"viewer": 0, "operator": 1, "admin": 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: one organization, one role, one key."""

    org_id: str
    role: str
    key_id: str
    key_name: str

    @property
    def actor(self) -> str:
        return f"api:{self.key_name}"

    def allows(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    org_id: str
    name: str
    prefix: str
    role: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _org(row: Any) -> Organization:
    return Organization(
        id=row.id,
        name=row.name,
        country=row.country,
        locale=row.locale,
        currency=row.currency,
        timezone=row.timezone,
        contact_hours_start=parse_hhmm(row.contact_hours_start),
        contact_hours_end=parse_hhmm(row.contact_hours_end),
        contact_days=parse_days(row.contact_days),
        credential_mode=row.credential_mode,
        settings=dict(row.settings or {}),
    )


async def create_organization(
    db: Database, data: OrganizationInput, *, org_id: str | None = None
) -> Organization:
    org_id = org_id or new_id()
    values: dict[str, Any] = {
        "id": org_id,
        "name": data.name,
        "country": data.country,
        "locale": data.locale,
        "currency": data.currency,
        "timezone": data.timezone,
        "contact_hours_start": data.contact_hours_start,
        "contact_hours_end": data.contact_hours_end,
        "contact_days": format_days(data.contact_days),
        "credential_mode": data.credential_mode,
        "settings": data.settings,
        "created_at": utcnow(),
    }
    async with db.transaction() as conn:
        await conn.execute(insert(organizations).values(**values))
        return await get_organization(conn, org_id)


async def update_organization(
    db: Database, org_id: str, changes: dict[str, Any], *, actor: str
) -> Organization:
    """Apply ``changes`` (fields of :class:`OrganizationInput`), re-validating the whole.

    Raises:
        NotFound: no such organization.
        pydantic.ValidationError: the result is not a valid organization.
    """
    async with db.transaction() as conn:
        current = await get_organization(conn, org_id)
        merged = OrganizationInput.model_validate(
            {
                "name": current.name,
                "country": current.country,
                "locale": current.locale,
                "currency": current.currency,
                "timezone": current.timezone,
                "contact_hours_start": current.contact_hours_start.strftime("%H:%M"),
                "contact_hours_end": current.contact_hours_end.strftime("%H:%M"),
                "contact_days": [DAYS[d] for d in sorted(current.contact_days)],
                "credential_mode": current.credential_mode,
                "settings": current.settings,
            }
            | changes
        )
        await conn.execute(
            update(organizations)
            .where(organizations.c.id == org_id)
            .values(
                name=merged.name,
                country=merged.country,
                locale=merged.locale,
                currency=merged.currency,
                timezone=merged.timezone,
                contact_hours_start=merged.contact_hours_start,
                contact_hours_end=merged.contact_hours_end,
                contact_days=format_days(merged.contact_days),
                credential_mode=merged.credential_mode,
                settings=merged.settings,
            )
        )
        await audit.record(
            conn,
            org_id=org_id,
            actor=actor,
            action="organization.updated",
            entity_type="organization",
            entity_id=org_id,
            detail={"fields": sorted(changes)},
        )
        return await get_organization(conn, org_id)


async def get_organization(conn: AsyncConnection, org_id: str) -> Organization:
    """Raises: NotFound."""
    row = (await conn.execute(_BY_ID, {"o_id": org_id})).first()
    if row is None:
        raise NotFound("organization")
    return _org(row)


# Built once: read on every tool call that applies the organization's rules.
_BY_ID = select(organizations).where(organizations.c.id == bindparam("o_id"))


async def create_api_key(db: Database, org_id: str, name: str, role: str) -> tuple[ApiKey, str]:
    """A new key; the plaintext is returned once and never stored."""
    if role not in ROLE_RANK:
        raise ValueError(f"role must be one of {', '.join(ROLE_RANK)}")
    prefix = secrets.token_hex(6)
    plaintext = f"pk_{prefix}_{secrets.token_urlsafe(24)}"
    return await store_api_key(db, org_id, name, role, plaintext), plaintext


async def store_api_key(db: Database, org_id: str, name: str, role: str, plaintext: str) -> ApiKey:
    """Store a key whose plaintext the caller chose (bootstrap keys from settings)."""
    key_id = new_id()
    async with db.transaction() as conn:
        await get_organization(conn, org_id)
        await conn.execute(
            insert(api_keys).values(
                id=key_id,
                org_id=org_id,
                name=name,
                prefix=_prefix_of(plaintext),
                key_hash=_digest(plaintext),
                role=role,
                created_at=utcnow(),
            )
        )
        row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).one()
    return _key(row)


def _prefix_of(plaintext: str) -> str:
    if plaintext.startswith("pk_") and plaintext.count("_") >= 2:
        return plaintext.split("_")[1][:16]
    return hashlib.sha256(plaintext.encode()).hexdigest()[:16]


def _key(row: Any) -> ApiKey:
    return ApiKey(
        row.id, row.org_id, row.name, row.prefix, row.role, row.created_at, row.revoked_at
    )


async def authenticate(conn: AsyncConnection, presented: str) -> Principal | None:
    """The principal of a presented key, or None (unknown, wrong or revoked)."""
    if not presented or len(presented) > 200:
        return None
    row = (
        await conn.execute(select(api_keys).where(api_keys.c.prefix == _prefix_of(presented)))
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _digest(presented)):
        return None
    return Principal(row.org_id, row.role, row.id, row.name)


async def principal_of_key(conn: AsyncConnection, key_id: str, org_id: str) -> Principal | None:
    """The principal of a key named by id (a signed-in session), or None when the key
    is gone, revoked or of another organization."""
    row = (
        await conn.execute(
            select(api_keys).where(api_keys.c.id == key_id, api_keys.c.org_id == org_id)
        )
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    return Principal(row.org_id, row.role, row.id, row.name)


async def list_api_keys(conn: AsyncConnection, org_id: str) -> list[ApiKey]:
    rows = await conn.execute(
        select(api_keys).where(api_keys.c.org_id == org_id).order_by(api_keys.c.created_at)
    )
    return [_key(r) for r in rows]


async def revoke_api_key(db: Database, org_id: str, key_id: str) -> None:
    """Raises: NotFound (also for another organization's key)."""
    async with db.transaction() as conn:
        result = await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.org_id == org_id)
            .values(revoked_at=utcnow())
        )
        if result.rowcount == 0:
            raise NotFound("api key")
