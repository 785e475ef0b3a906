"""Which system of record an organization uses, and the secret that signs requests to it.

The choice lives in the call policy (``settings["calls"]["system_of_record"]``, read
by :class:`~backoffice.calls.records.RecordsResolver`); the signing secret lives
beside it, encrypted (:mod:`backoffice.vault`), in ``organizations.records_secret``.
Both change together, in one transaction, so a call never meets a remote system with
no secret to sign for it. The secret is write-only: it is never returned, and the
audit entry of a change says only whether it was replaced.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice import audit
from backoffice.calls.policy import (
    BuiltinRecordsConfig,
    RemoteRecordsConfig,
    check_policy,
    policy_of,
)
from backoffice.errors import FieldError, InvalidInput, NotFound
from backoffice.orgs.service import get_organization
from backoffice.store.db import Database
from backoffice.store.tables import organizations
from backoffice.vault import Vault, VaultError

log = structlog.get_logger(__name__)

MIN_SECRET = 32
MAX_SECRET = 512
_LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True, slots=True)
class RecordsSettings:
    """An organization's system of record as an admin may see it (no secret)."""

    config: BuiltinRecordsConfig | RemoteRecordsConfig
    secret_set: bool


async def get_records_settings(conn: AsyncConnection, org_id: str) -> RecordsSettings:
    """Raises: NotFound."""
    org = await get_organization(conn, org_id)
    secret = (
        await conn.execute(
            select(organizations.c.records_secret).where(organizations.c.id == org_id)
        )
    ).scalar_one()
    return RecordsSettings(policy_of(org.settings).system_of_record, bool(secret))


async def set_records_settings(
    db: Database,
    vault: Vault,
    *,
    org_id: str,
    kind: str,
    url: str | None,
    timeout_s: float | None,
    retries: int | None,
    signing_secret: str | None,
    actor: str,
) -> RecordsSettings:
    """Switch the organization to its own system (``remote``) or back to parley's.

    ``signing_secret`` None keeps the stored one (a remote system needs one, stored or
    given); ``builtin`` forgets the URL and the secret.

    Raises:
        InvalidInput: naming each bad field.
        NotFound: no such organization.
    """
    async with db.transaction() as conn:
        # Lock the row first, so two admins saving at once cannot merge stale settings.
        locked = (
            await conn.execute(
                select(organizations.c.records_secret)
                .where(organizations.c.id == org_id)
                .with_for_update()
            )
        ).first()
        if locked is None:
            raise NotFound("organization")
        stored = locked.records_secret
        org = await get_organization(conn, org_id)
        config = _config(kind, url, timeout_s, retries, signing_secret, has_secret=bool(stored))
        calls = dict(org.settings.get("calls") or {})
        calls["system_of_record"] = config.model_dump(mode="json")
        try:
            checked = check_policy(calls)
        except ValidationError as exc:
            raise InvalidInput(
                [
                    FieldError(f"settings.calls.{'.'.join(str(p) for p in e['loc'])}", e["msg"])
                    for e in exc.errors()
                ],
                "the organization's call settings are invalid",
            ) from None
        if isinstance(config, RemoteRecordsConfig):
            sealed = vault.seal({"signing_secret": signing_secret}) if signing_secret else stored
            secret_change = "replaced" if signing_secret else "kept"
        else:
            sealed, secret_change = None, "removed" if stored else "none"
        await conn.execute(
            update(organizations)
            .where(organizations.c.id == org_id)
            .values(settings={**org.settings, "calls": checked}, records_secret=sealed)
        )
        detail: dict[str, Any] = {"kind": config.kind, "signing_secret": secret_change}
        if isinstance(config, RemoteRecordsConfig):
            detail |= {
                "url": str(config.url),
                "timeout_s": config.timeout_s,
                "retries": config.retries,
            }
        await audit.record(
            conn,
            org_id=org_id,
            actor=actor,
            action="organization.records_set",
            entity_type="organization",
            entity_id=org_id,
            detail=detail,
        )
    log.info("records.configured", org_id=org_id, kind=config.kind, secret=secret_change)
    return RecordsSettings(config, sealed is not None)


def _config(
    kind: str,
    url: str | None,
    timeout_s: float | None,
    retries: int | None,
    signing_secret: str | None,
    *,
    has_secret: bool,
) -> BuiltinRecordsConfig | RemoteRecordsConfig:
    errors: list[FieldError] = []
    if kind == "builtin":
        for name, value in (
            ("url", url),
            ("timeout_s", timeout_s),
            ("retries", retries),
            ("signing_secret", signing_secret),
        ):
            if value is not None:
                errors.append(FieldError(name, "only for kind remote"))
        if errors:
            raise InvalidInput(errors, "invalid system of record")
        return BuiltinRecordsConfig()
    if kind != "remote":
        raise InvalidInput([FieldError("kind", "must be builtin or remote")])
    if url is None:
        errors.append(FieldError("url", "required for kind remote"))
    if signing_secret is None and not has_secret:
        errors.append(FieldError("signing_secret", "required: no secret is stored yet"))
    elif signing_secret is not None and not MIN_SECRET <= len(signing_secret) <= MAX_SECRET:
        errors.append(
            FieldError("signing_secret", f"must be {MIN_SECRET} to {MAX_SECRET} characters long")
        )
    values: dict[str, Any] = {"kind": "remote", "url": url}
    if timeout_s is not None:
        values["timeout_s"] = timeout_s
    if retries is not None:
        values["retries"] = retries
    config: RemoteRecordsConfig | None = None
    try:
        config = RemoteRecordsConfig.model_validate(values)
    except ValidationError as exc:
        errors += [
            FieldError(".".join(str(p) for p in e["loc"]) or "body", e["msg"])
            for e in exc.errors()
            if not (url is None and e["loc"] == ("url",))
        ]
    if config is not None:
        errors += _url_problems(config)
    if errors or config is None:
        raise InvalidInput(errors, "invalid system of record")
    return config


def _url_problems(config: RemoteRecordsConfig) -> list[FieldError]:
    url = config.url
    problems = []
    if url.username or url.password:
        problems.append(
            FieldError("url", "must not contain a user name or password (requests are signed)")
        )
    if url.query or url.fragment:
        problems.append(FieldError("url", "must not have a query or a fragment"))
    if url.scheme != "https" and not _loopback(url.host or ""):
        problems.append(FieldError("url", "must be https (plain http only for a loopback host)"))
    return problems


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def load_signing_secret(db: Database, vault: Vault, org_id: str) -> bytes | None:
    """The organization's signing secret, or None when none is stored or readable.

    An unreadable one (the server secret changed since) is logged, never shown.
    """
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(organizations.c.records_secret).where(organizations.c.id == org_id)
            )
        ).first()
    if row is None:
        raise NotFound("organization")
    if not row.records_secret:
        return None
    try:
        secret = vault.open(row.records_secret).get("signing_secret")
    except VaultError:
        log.error("records.secret_unreadable", org_id=org_id)
        return None
    return secret.encode() if isinstance(secret, str) and secret else None
