"""Organizations and look-ups shared by the portfolio tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from backoffice.orgs.models import Organization, OrganizationInput
from backoffice.orgs.service import create_organization
from backoffice.store.db import Database
from backoffice.store.tables import account_status_history, accounts, contact_phones, contacts

KEY = b"test-document-key-0123456789"
FIXTURES = Path(__file__).parent / "fixtures"

SPAIN = OrganizationInput(
    name="Cobros Ibérica", country="ES", locale="es-ES", timezone="Europe/Madrid"
)
BRAZIL = OrganizationInput(
    name="Cobranças Brasil", country="BR", locale="pt-BR", timezone="America/Sao_Paulo"
)
USA = OrganizationInput(
    name="Acme Collections", country="US", locale="en-US", timezone="America/New_York"
)


async def make_org(db: Database, data: OrganizationInput = SPAIN) -> Organization:
    return await create_organization(db, data)


async def accounts_of(db: Database, org_id: str) -> dict[str, Any]:
    """Every account of ``org_id`` with its contact, keyed by external_id (or id)."""
    query = (
        select(accounts, contacts.c.name, contacts.c.email, contacts.c.phone, contacts.c.whatsapp,
               contacts.c.document_last4, contacts.c.document_digest, contacts.c.language,
               contacts.c.timezone)
        .select_from(accounts.join(contacts, contacts.c.id == accounts.c.contact_id))
        .where(accounts.c.org_id == org_id)
    )  # fmt: skip
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    return {row.external_id or row.id: row for row in rows}


async def phones_of(db: Database, contact_id: str) -> set[str]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(contact_phones.c.number).where(contact_phones.c.contact_id == contact_id)
        )
        return {r.number for r in rows}


async def history_of(db: Database, account_id: str) -> list[Any]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(account_status_history).where(account_status_history.c.account_id == account_id)
        )
        return list(rows)
