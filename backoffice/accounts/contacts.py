"""Reading a contact: its details, alternate phones and accounts, document masked.

The document number leaves this module only through
:func:`~backoffice.accounts.masking.mask_document`; the digest is never selected, and
the date of birth (kept for identity checks during calls) is not shown to operators.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.accounts.masking import mask_document
from backoffice.accounts.models import AccountRef, Contact, ContactDetail, Phone
from backoffice.errors import NotFound
from backoffice.store.tables import accounts, contact_phones, contacts

CONTACT_COLUMNS = (
    contacts.c.id,
    contacts.c.name,
    contacts.c.email,
    contacts.c.phone,
    contacts.c.whatsapp,
    contacts.c.document_last4,
    contacts.c.language,
    contacts.c.timezone,
    contacts.c.opted_out,
    contacts.c.opted_out_reason,
    contacts.c.opted_out_at,
    contacts.c.opted_out_by,
    contacts.c.created_at,
    contacts.c.updated_at,
)


async def phones_of(conn: AsyncConnection, org_id: str, contact_id: str) -> list[Phone]:
    rows = await conn.execute(
        select(
            contact_phones.c.id,
            contact_phones.c.number,
            contact_phones.c.state,
            contact_phones.c.source,
            contact_phones.c.created_at,
        )
        .where(contact_phones.c.contact_id == contact_id, contact_phones.c.org_id == org_id)
        .order_by(contact_phones.c.created_at, contact_phones.c.id)
    )
    return [Phone.model_validate(dict(r._mapping)) for r in rows]


def _contact(row: Row[*tuple[Any, ...]], phones: list[Phone]) -> dict[str, Any]:
    data = dict(row._mapping)
    data["document"] = mask_document(data.pop("document_last4"))
    data["phones"] = phones
    return data


async def get_contact(conn: AsyncConnection, org_id: str, contact_id: str) -> Contact:
    """Raises: NotFound (also for another organization's contact)."""
    row = (
        await conn.execute(
            select(*CONTACT_COLUMNS).where(contacts.c.id == contact_id, contacts.c.org_id == org_id)
        )
    ).first()
    if row is None:
        raise NotFound("contact")
    return Contact.model_validate(_contact(row, await phones_of(conn, org_id, contact_id)))


async def contact_detail(conn: AsyncConnection, org_id: str, contact_id: str) -> ContactDetail:
    """The contact with its phones and its accounts.

    Raises:
        NotFound: also for another organization's contact.
    """
    contact = await get_contact(conn, org_id, contact_id)
    rows = await conn.execute(
        select(
            accounts.c.id,
            accounts.c.external_id,
            accounts.c.reference,
            accounts.c.status,
            accounts.c.pending_balance,
            accounts.c.currency,
        )
        .where(accounts.c.contact_id == contact_id, accounts.c.org_id == org_id)
        .order_by(accounts.c.created_at, accounts.c.id)
    )
    return ContactDetail(
        **contact.model_dump(exclude={"phones"}),
        phones=contact.phones,
        accounts=[AccountRef.model_validate(dict(r._mapping)) for r in rows],
    )
