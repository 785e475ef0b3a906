"""Everything the backoffice must say before an outbound call is dialled.

The gateway asks :func:`plan_outbound_call` and dials only what it returns: the
account must belong to the caller's organization (another's is "not found"), the
number must be one of the contact's own (an operator cannot dial an arbitrary number
under an account's name), and the one compliance check must allow a call now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select

from backoffice.accounts.contacts import get_contact
from backoffice.compliance.check import Decision, may_contact
from backoffice.errors import FieldError, InvalidInput, NotFound
from backoffice.language import effective_language
from backoffice.orgs.service import get_organization
from backoffice.store.db import Database
from backoffice.store.tables import accounts

DynamicValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class CallPlan:
    """A call that may go ahead, or the compliance decision that stops it."""

    account_id: str
    account_ref: str  # the organization's own id for the account (external id)
    contact_id: str
    contact_name: str
    to: str
    language: str
    variables: dict[str, DynamicValue]
    decision: Decision

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


async def plan_outbound_call(
    db: Database,
    *,
    org_id: str,
    account: str,
    to: str | None,
    language: str | None,
    at: dt.datetime,
) -> CallPlan:
    """Resolve and check an outbound call to an account.

    Args:
        account: the account's id or its external id in this organization.
        to: the number to dial in E.164, or None for the contact's main phone.
        language: an operator's override, or None for the effective language.

    Raises:
        NotFound: no such account in this organization.
        InvalidInput: ``to`` is not one of the contact's numbers, or there is none.
    """
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(accounts.c.id, accounts.c.contact_id, accounts.c.external_id).where(
                    accounts.c.org_id == org_id,
                    or_(accounts.c.id == account, accounts.c.external_id == account),
                )
            )
        ).first()
        if row is None:
            raise NotFound("account")
        org = await get_organization(conn, org_id)
        contact = await get_contact(conn, org_id, row.contact_id)
        numbers = [n for n in (contact.phone, contact.whatsapp) if n]
        numbers += [p.number for p in contact.phones if p.state != "disconnected"]
        if to is None:
            if not numbers:
                raise InvalidInput([FieldError("to", "the contact has no phone number")])
            to = numbers[0]
        elif to not in numbers:
            raise InvalidInput([FieldError("to", "not one of this account's contact numbers")])
        decision = await may_contact(
            conn, org_id=org_id, contact_id=row.contact_id, account_id=row.id, channel="call", at=at
        )
    chosen = effective_language(
        override=language,
        contact_language=contact.language,
        org_locale=org.locale,
        org_country=org.country,
    )
    return CallPlan(
        account_id=row.id,
        account_ref=row.external_id or "",
        contact_id=row.contact_id,
        contact_name=contact.name,
        to=to,
        language=chosen.tag,
        variables={
            "debtor_first_name": contact.name.split()[0] if contact.name.strip() else "",
            "org_name": org.name,
        },
        decision=decision,
    )
