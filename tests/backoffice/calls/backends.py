"""Both backoffices behind one harness, so every behaviour is checked on each.

A :class:`Backend` seeds an account where its system keeps accounts (parley's tables
for the built-in store, the partner stand-in's ledger for the remote one) and reads
back, the same way for both, what an action left there. The system of record under
test is the real one: :class:`BuiltinRecords` on the ``db`` fixture, or
:class:`RemoteRecords` built by the factory from the organization's stored settings,
signing real HTTP requests to :class:`PartnerRecords` on loopback.
"""

from __future__ import annotations

import datetime as dt
import itertools
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backoffice.calls.builtin import BuiltinRecords
from backoffice.calls.interface import SystemOfRecord
from backoffice.calls.models import CallRef
from backoffice.calls.policy import RemoteRecordsConfig, policy_of
from backoffice.calls.records_config import set_records_settings
from backoffice.calls.remote import RemoteRecordsFactory
from backoffice.orgs.models import Organization, OrganizationInput
from backoffice.orgs.service import create_organization, get_organization
from backoffice.store.db import Database
from backoffice.store.tables import (
    accounts,
    callback_requests,
    contact_phones,
    contacts,
    disputes,
    dnc_numbers,
    hardships,
    interactions,
    promises,
)
from backoffice.vault import Vault
from config.settings import StoreSettings
from gateway.standins.partner_accounts import PartnerAccount, PartnerPhone
from gateway.standins.partner_records import PartnerRecords
from tests.backoffice.factories import (
    make_account,
    make_contact,
    make_contact_phone,
    make_debt_item,
)

#: A Friday, 10:00 in New York: inside the organization's contact hours.
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
SECRET = "partner-signing-secret-for-the-tests-0123456789"
#: The vault the operator API uses when no settings are given (the development secret).
VAULT = Vault(str(StoreSettings.model_fields["secret_key"].default.get_secret_value()).encode())
ORG = OrganizationInput(
    name="Acme Collections",
    country="US",
    locale="en-US",
    timezone="America/New_York",
    contact_hours_start="08:00",
    contact_hours_end="21:00",
    settings={"calls": {"promise_min_amount": "10.00", "promise_max_days": 30}},
)
_calls = itertools.count(1)


def clock() -> dt.datetime:
    return NOW


def call_sid() -> str:
    return f"CA{next(_calls):032d}"


@dataclass(frozen=True)
class AccountSpec:
    """An account and its debtor, as a test describes them (defaults: a workable one)."""

    name: str = "Ana García"
    phone: str = "+12125550101"
    #: (number, state, source) of the contact's other numbers.
    alternates: tuple[tuple[str, str, str], ...] = ()
    pending: str = "250.00"
    total: str = "300.00"
    items: tuple[tuple[str, str], ...] = (
        ("capital", "280.00"),
        ("fees", "20.00"),
        ("payment", "-50.00"),
    )
    last4: str | None = "4321"
    born: dt.date | None = dt.date(1984, 2, 29)
    timezone: str | None = "America/Chicago"
    language: str | None = "es-MX"
    status: str = "pending_contact"
    reference: str | None = "LOAN-1"
    due: dt.date | None = dt.date(2026, 10, 31)
    email: str | None = "ana@example.test"


class Backend(ABC):
    """One system of record under test, and how to look inside it."""

    kind: str
    records: SystemOfRecord
    org: Organization
    db: Database

    @abstractmethod
    async def seed(self, spec: AccountSpec = AccountSpec()) -> CallRef:
        """Create the account; the call about it, dialled on its main phone."""

    @abstractmethod
    async def promises(self, ref: str) -> list[tuple[Decimal, dt.date, str]]: ...

    @abstractmethod
    async def callbacks(self, ref: str) -> list[dt.datetime]: ...

    @abstractmethod
    async def cases(self, ref: str, kind: str) -> list[str]:
        """The reasons of the account's disputes or hardships (``kind``)."""

    @abstractmethod
    async def status(self, ref: str) -> str: ...

    @abstractmethod
    async def contact_opted_out(self, ref: str) -> bool: ...

    @abstractmethod
    async def phones(self, ref: str) -> dict[str, tuple[str, str]]:
        """number -> (state, source)."""

    @abstractmethod
    async def channel_preference(self, ref: str) -> str | None: ...

    @abstractmethod
    async def outcome(self, call: CallRef) -> dict[str, Any]:
        """What the system kept of the call's end: status, summary, disposition."""

    async def dnc_listed(self, number: str) -> bool:
        """On parley's own do-not-contact list (kept by parley for both systems)."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(dnc_numbers.c.id).where(
                        dnc_numbers.c.org_id == self.org.id, dnc_numbers.c.number == number
                    )
                )
            ).first()
        return row is not None


class BuiltinBackend(Backend):
    kind = "builtin"

    def __init__(self, db: Database, org: Organization) -> None:
        self.db = db
        self.org = org
        self.records = BuiltinRecords(db, clock)

    async def seed(self, spec: AccountSpec = AccountSpec()) -> CallRef:
        contact = await make_contact(
            self.db,
            self.org.id,
            name=spec.name,
            phone=spec.phone,
            email=spec.email,
            document_last4=spec.last4,
            date_of_birth=spec.born,
            timezone=spec.timezone,
            language=spec.language,
        )
        await make_contact_phone(self.db, self.org.id, contact, spec.phone, source="import")
        for number, state, source in spec.alternates:
            await make_contact_phone(
                self.db, self.org.id, contact, number, state=state, source=source
            )
        account = await make_account(
            self.db,
            self.org.id,
            contact,
            total_amount=Decimal(spec.total),
            pending_balance=Decimal(spec.pending),
            status=spec.status,
            reference=spec.reference,
            due_date=spec.due,
        )
        for kind, amount in spec.items:
            await make_debt_item(self.db, self.org.id, account, kind, amount)
        return CallRef(self.org.id, call_sid(), account, contact, number=spec.phone)

    async def _rows(self, statement: Any) -> list[Any]:
        async with self.db.read() as conn:
            return list((await conn.execute(statement)).all())

    async def promises(self, ref: str) -> list[tuple[Decimal, dt.date, str]]:
        rows = await self._rows(
            select(promises.c.amount, promises.c.due_date, promises.c.status)
            .where(promises.c.org_id == self.org.id, promises.c.account_id == ref)
            .order_by(promises.c.created_at, promises.c.id)
        )
        return [(r.amount, r.due_date, r.status) for r in rows]

    async def callbacks(self, ref: str) -> list[dt.datetime]:
        rows = await self._rows(
            select(callback_requests.c.scheduled_for).where(
                callback_requests.c.org_id == self.org.id, callback_requests.c.account_id == ref
            )
        )
        return [r.scheduled_for for r in rows]

    async def cases(self, ref: str, kind: str) -> list[str]:
        table = {"dispute": disputes, "hardship": hardships}[kind]
        rows = await self._rows(
            select(table.c.reason).where(table.c.org_id == self.org.id, table.c.account_id == ref)
        )
        return [r.reason for r in rows]

    async def status(self, ref: str) -> str:
        rows = await self._rows(select(accounts.c.status).where(accounts.c.id == ref))
        return str(rows[0].status)

    async def _contact_of(self, ref: str) -> str:
        rows = await self._rows(select(accounts.c.contact_id).where(accounts.c.id == ref))
        return str(rows[0].contact_id)

    async def contact_opted_out(self, ref: str) -> bool:
        contact = await self._contact_of(ref)
        rows = await self._rows(select(contacts.c.opted_out).where(contacts.c.id == contact))
        return bool(rows[0].opted_out)

    async def phones(self, ref: str) -> dict[str, tuple[str, str]]:
        contact = await self._contact_of(ref)
        rows = await self._rows(
            select(contact_phones.c.number, contact_phones.c.state, contact_phones.c.source).where(
                contact_phones.c.contact_id == contact
            )
        )
        return {r.number: (r.state, r.source) for r in rows}

    async def channel_preference(self, ref: str) -> str | None:
        contact = await self._contact_of(ref)
        rows = await self._rows(
            select(contacts.c.preferred_channel).where(contacts.c.id == contact)
        )
        return rows[0].preferred_channel  # type: ignore[no-any-return]

    async def outcome(self, call: CallRef) -> dict[str, Any]:
        rows = await self._rows(
            select(
                interactions.c.status,
                interactions.c.summary,
                interactions.c.disposition,
                interactions.c.duration_s,
            ).where(
                interactions.c.org_id == self.org.id, interactions.c.provider_id == call.call_sid
            )
        )
        return dict(rows[0]._mapping) if rows else {}


class RemoteBackend(Backend):
    kind = "remote"

    def __init__(
        self,
        db: Database,
        org: Organization,
        partner: PartnerRecords,
        factory: RemoteRecordsFactory,
    ) -> None:
        self.db = db
        self.org = org
        self.partner = partner
        config = policy_of(org.settings).system_of_record
        assert isinstance(config, RemoteRecordsConfig)
        self.records = factory(org.id, config)

    async def seed(self, spec: AccountSpec = AccountSpec()) -> CallRef:
        serial = next(_calls)
        phones = [PartnerPhone(spec.phone, source="import")]
        phones += [PartnerPhone(n, state=st, source=src) for n, st, src in spec.alternates]
        account = self.partner.add_account(
            PartnerAccount(
                ref=f"A-{serial}",
                contact_id=f"C-{serial}",
                contact_name=spec.name,
                pending_balance=Decimal(spec.pending),
                total_amount=Decimal(spec.total),
                currency=self.org.currency,
                status=spec.status,
                reference=spec.reference,
                due_date=spec.due,
                language=spec.language,
                timezone=spec.timezone,
                email=spec.email,
                phones=phones,
                items=[(k, Decimal(a)) for k, a in spec.items],
                document_last4=spec.last4,
                date_of_birth=spec.born,
            )
        )
        return CallRef(self.org.id, call_sid(), account.ref, account.contact_id, number=spec.phone)

    async def promises(self, ref: str) -> list[tuple[Decimal, dt.date, str]]:
        return [
            (Decimal(p["amount"]), dt.date.fromisoformat(p["due_date"]), p["status"])
            for p in self.partner.account(ref).promises
        ]

    async def callbacks(self, ref: str) -> list[dt.datetime]:
        return [dt.datetime.fromisoformat(c["at"]) for c in self.partner.account(ref).callbacks]

    async def cases(self, ref: str, kind: str) -> list[str]:
        account = self.partner.account(ref)
        cases = {"dispute": account.disputes, "hardship": account.hardships}[kind]
        return [c["reason"] for c in cases]

    async def status(self, ref: str) -> str:
        return self.partner.account(ref).status

    async def contact_opted_out(self, ref: str) -> bool:
        return self.partner.account(ref).opted_out

    async def phones(self, ref: str) -> dict[str, tuple[str, str]]:
        return {p.number: (p.state, p.source) for p in self.partner.account(ref).phones}

    async def channel_preference(self, ref: str) -> str | None:
        return self.partner.account(ref).preferred_channel

    async def outcome(self, call: CallRef) -> dict[str, Any]:
        found = self.partner.ledger.calls.get(call.call_sid)
        return dict(found["outcome"]) if found else {}


async def make_org(db: Database, data: OrganizationInput = ORG) -> Organization:
    return await create_organization(db, data)


async def make_remote_org(
    db: Database,
    partner: PartnerRecords,
    *,
    data: OrganizationInput = ORG,
    timeout_s: float = 1.0,
    retries: int = 1,
    secret: str = SECRET,
) -> Organization:
    """An organization switched to ``partner`` through the records settings service."""
    org = await create_organization(db, data)
    await set_records_settings(
        db,
        VAULT,
        org_id=org.id,
        kind="remote",
        url=partner.url,
        timeout_s=timeout_s,
        retries=retries,
        signing_secret=secret,
        actor="test",
    )
    async with db.read() as conn:
        return await get_organization(conn, org.id)


@asynccontextmanager
async def running_partner(secret: str = SECRET) -> AsyncIterator[PartnerRecords]:
    partner = PartnerRecords(secret)
    await partner.start()
    try:
        yield partner
    finally:
        await partner.stop()


@asynccontextmanager
async def remote_factory_for(db: Database, **kw: Any) -> AsyncIterator[RemoteRecordsFactory]:
    factory = RemoteRecordsFactory(db, VAULT, clock=clock, **kw)
    try:
        yield factory
    finally:
        await factory.aclose()


@asynccontextmanager
async def backend_of(kind: str, db: Database) -> AsyncIterator[Backend]:
    if kind == "builtin":
        yield BuiltinBackend(db, await make_org(db))
        return
    async with running_partner() as partner, remote_factory_for(db) as factory:
        org = await make_remote_org(db, partner)
        yield RemoteBackend(db, org, partner, factory)
