"""An organization's email sending domain: register it, show its DNS records, verify.

Resend signs mail only for a domain whose DNS records (SPF, DKIM, the return-path
MX) are in place; until then it refuses to send from it. parley keeps the domain's
state beside the organization so that a send is refused *before* reaching Resend,
with a reason an operator can act on ("add these records, then verify").

``verify`` asks Resend to check the DNS now, then reads the domain back: Resend
checks asynchronously, so the status may still be ``pending`` right after; verifying
again later (or Resend's ``domain.updated`` event) brings it to ``verified``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice import audit
from backoffice.errors import Conflict, FieldError, InvalidInput, NotFound
from backoffice.messaging.provider_accounts import resend_account
from backoffice.messaging.providers import Messaging
from backoffice.store.db import Database
from backoffice.store.tables import EMAIL_DOMAIN_STATUSES, email_domains, new_id, utcnow

log = structlog.get_logger(__name__)

REGIONS = ("us-east-1", "eu-west-1", "sa-east-1", "ap-northeast-1")
_HOSTNAME = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True, slots=True)
class DnsRecord:
    record: str
    name: str
    type: str
    value: str
    ttl: str | None
    status: str | None
    priority: int | None


@dataclass(frozen=True, slots=True)
class EmailDomain:
    id: str
    name: str
    status: str
    region: str | None
    records: list[DnsRecord]
    credential_mode: str
    created_at: dt.datetime
    checked_at: dt.datetime | None
    verified_at: dt.datetime | None

    @property
    def verified(self) -> bool:
        return self.status == "verified"


def check_name(name: str) -> str:
    """Raises: InvalidInput (field ``name``)."""
    value = name.strip().lower().rstrip(".")
    if not _HOSTNAME.match(value):
        raise InvalidInput([FieldError("name", "must be a domain name such as mail.example.com")])
    return value


def _records(answer: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in answer.get("records") or []:
        if isinstance(item, dict):
            out.append(
                {
                    "record": str(item.get("record", "")),
                    "name": str(item.get("name", "")),
                    "type": str(item.get("type", "")),
                    "value": str(item.get("value", "")),
                    "ttl": None if item.get("ttl") is None else str(item.get("ttl")),
                    "status": item.get("status"),
                    "priority": item.get("priority"),
                }
            )
    return out


def _status(answer: dict[str, Any]) -> str:
    status = str(answer.get("status") or "not_started")
    return status if status in EMAIL_DOMAIN_STATUSES else "pending"


def _domain(row: Any) -> EmailDomain:
    return EmailDomain(
        id=row.id,
        name=row.name,
        status=row.status,
        region=row.region,
        records=[DnsRecord(**r) for r in row.records or []],
        credential_mode=row.credential_mode,
        created_at=row.created_at,
        checked_at=row.checked_at,
        verified_at=row.verified_at,
    )


async def register_domain(
    db: Database,
    messaging: Messaging,
    *,
    org_id: str,
    name: str,
    region: str | None,
    actor: str,
) -> EmailDomain:
    """Register ``name`` with Resend (the organization's account or parley's).

    Raises:
        InvalidInput: a malformed name or unknown region.
        Conflict: the domain is already registered (here, by any organization).
        ProviderRefused, ProviderUnavailable: Resend said no, or did not answer.
    """
    name = check_name(name)
    if region is not None and region not in REGIONS:
        raise InvalidInput([FieldError("region", f"must be one of {', '.join(REGIONS)}")])
    async with db.read() as conn:
        taken = (
            await conn.execute(select(email_domains.c.id).where(email_domains.c.name == name))
        ).first()
        account = await resend_account(conn, messaging.config, org_id)
    if taken is not None:
        raise Conflict(f"the domain {name} is already registered")
    answer = await messaging.create_domain(account, name, region)
    domain_id = new_id()
    async with db.transaction() as conn:
        await conn.execute(
            insert(email_domains).values(
                id=domain_id,
                org_id=org_id,
                name=name,
                provider_domain_id=str(answer["id"]),
                region=answer.get("region") or region,
                status=_status(answer),
                records=_records(answer),
                credential_mode=account.mode,
                created_at=utcnow(),
            )
        )
        await audit.record(
            conn,
            org_id=org_id,
            actor=actor,
            action="email_domain.registered",
            entity_type="email_domain",
            entity_id=domain_id,
            detail={"name": name, "credential_mode": account.mode},
        )
        log.info("email_domain.registered", org_id=org_id, domain=name)
        return await get_domain(conn, org_id, domain_id)


async def verify_domain(
    db: Database, messaging: Messaging, *, org_id: str, domain_id: str, actor: str
) -> EmailDomain:
    """Ask Resend to check the records, then store what it says now.

    Raises:
        NotFound: no such domain in this organization.
        ProviderRefused, ProviderUnavailable.
    """
    async with db.read() as conn:
        domain = await _row(conn, org_id, domain_id)
        account = await resend_account(conn, messaging.config, org_id)
    await messaging.verify_domain(account, domain.provider_domain_id)
    answer = await messaging.get_domain(account, domain.provider_domain_id)
    async with db.transaction() as conn:
        await apply_provider_state(conn, org_id, domain_id, answer)
        updated = await get_domain(conn, org_id, domain_id)
        await audit.record(
            conn,
            org_id=org_id,
            actor=actor,
            action="email_domain.verify",
            entity_type="email_domain",
            entity_id=domain_id,
            detail={"name": updated.name, "status": updated.status},
        )
    return updated


async def apply_provider_state(
    conn: AsyncConnection, org_id: str, domain_id: str, answer: dict[str, Any]
) -> None:
    """Store the status and records of a Resend domain answer (or ``domain.updated``)."""
    status = _status(answer)
    values: dict[str, Any] = {"status": status, "checked_at": utcnow()}
    records = _records(answer)
    if records:
        values["records"] = records
    if status == "verified":
        values["verified_at"] = utcnow()
    await conn.execute(
        update(email_domains)
        .where(email_domains.c.id == domain_id, email_domains.c.org_id == org_id)
        .values(**values)
    )


async def get_domain(conn: AsyncConnection, org_id: str, domain_id: str) -> EmailDomain:
    """Raises: NotFound (also another organization's)."""
    return _domain(await _row(conn, org_id, domain_id))


async def list_domains(conn: AsyncConnection, org_id: str) -> list[EmailDomain]:
    rows = await conn.execute(
        select(email_domains)
        .where(email_domains.c.org_id == org_id)
        .order_by(email_domains.c.created_at, email_domains.c.id)
    )
    return [_domain(r) for r in rows]


async def sending_domain(conn: AsyncConnection, org_id: str) -> str | None:
    """The verified domain the organization's email goes out from (the first one
    verified), or None: email must then be refused."""
    return (
        await conn.execute(
            select(email_domains.c.name)
            .where(email_domains.c.org_id == org_id, email_domains.c.status == "verified")
            .order_by(email_domains.c.verified_at, email_domains.c.id)
            .limit(1)
        )
    ).scalar()


async def org_for_domain(conn: AsyncConnection, name: str) -> str | None:
    """The organization that registered ``name`` (inbound mail is matched by it)."""
    return (
        await conn.execute(
            select(email_domains.c.org_id).where(email_domains.c.name == name.lower())
        )
    ).scalar()


async def _row(conn: AsyncConnection, org_id: str, domain_id: str) -> Any:
    row = (
        await conn.execute(
            select(email_domains).where(
                email_domains.c.id == domain_id, email_domains.c.org_id == org_id
            )
        )
    ).first()
    if row is None:
        raise NotFound("email domain")
    return row
