"""What a message about an account may say: the account, its contact, its debt items,
as template variables formatted for the reader's language."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.accounts.contacts import get_contact
from backoffice.accounts.debt_items import items_of
from backoffice.accounts.models import Contact, DebtItem
from backoffice.errors import NotFound
from backoffice.language import LanguageChoice, effective_language
from backoffice.messaging.formatting import Breakdown, babel_locale, long_date, money
from backoffice.orgs.models import Organization
from backoffice.store.tables import accounts


@dataclass(frozen=True, slots=True)
class AccountFacts:
    org: Organization
    account_id: str
    reference: str
    status: str
    pending_balance: Decimal
    currency: str
    due_date: dt.date | None
    contact: Contact
    items: list[DebtItem]

    def language(self, override: str | None = None) -> LanguageChoice:
        return effective_language(
            override=override,
            contact_language=self.contact.language,
            org_locale=self.org.locale,
            org_country=self.org.country,
        )

    def variables(self, language: str) -> dict[str, str]:
        """Every variable the shipped templates use, written for ``language``."""
        locale = babel_locale(language, self.org.country)
        lines = Breakdown.of(self.items).lines(self.currency, language, locale)
        balance = money(self.pending_balance, self.currency, locale)
        name = self.contact.name.strip()
        return {
            "first_name": name.split()[0] if name else "",
            "name": name,
            "org_name": self.org.name,
            "reference": self.reference,
            "balance": balance,
            "due_date": long_date(self.due_date, locale),
            "breakdown": "\n".join(lines) if lines else balance,
            "breakdown_inline": "; ".join(lines) if lines else balance,
        }

    def numbers(self) -> list[str]:
        """The contact's own numbers, main first (disconnected alternates left out)."""
        found = [n for n in (self.contact.phone, self.contact.whatsapp) if n]
        found += [p.number for p in self.contact.phones if p.state != "disconnected"]
        return list(dict.fromkeys(found))


async def account_facts(conn: AsyncConnection, org: Organization, account_id: str) -> AccountFacts:
    """Raises: NotFound (also another organization's account)."""
    row = (
        await conn.execute(
            select(accounts).where(accounts.c.id == account_id, accounts.c.org_id == org.id)
        )
    ).first()
    if row is None:
        raise NotFound("account")
    contact = await get_contact(conn, org.id, row.contact_id)
    return AccountFacts(
        org=org,
        account_id=row.id,
        reference=row.reference or row.external_id or row.id[:8].upper(),
        status=row.status,
        pending_balance=row.pending_balance,
        currency=row.currency,
        due_date=row.due_date,
        contact=contact,
        items=await items_of(conn, org.id, row.id, row.currency),
    )
