"""Opt-outs: a contact asks not to be contacted, on any channel, from now on.

An opt-out is a flag on the contact (``opted_out`` with reason, when and by whom), so
the compliance check (:mod:`.check`) sees it on the very next attempt of every
channel: there is no cache to refresh. It comes from a person in the backoffice
(``individual``), a list (``bulk``, ``dnc``), another system (``api``), the agent
mid-call (``agent``), the debtor in the portal (``portal``) or in a reply to a
message (``reply``: STOP, BAJA, PARAR...).

Every request that reaches a contact is written to the audit log in the same
transaction, including repeated ones: the log must show each time a person asked. A
repeat keeps the first opt-out's reason and time, which is the one that counts.
Undoing restores contact (an admin act, see the API) and is audited the same way;
the flag's columns then describe the present and the audit log keeps the history.

All functions take a connection inside the caller's transaction and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy import func, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from backoffice import audit
from backoffice.accounts import priority
from backoffice.compliance import dnc_list
from backoffice.compliance.phones import InvalidPhone, to_e164
from backoffice.errors import FieldError, InvalidInput, NotFound
from backoffice.store.tables import accounts, contact_phones, contacts, utcnow

log = structlog.get_logger(__name__)

SOURCES = ("individual", "bulk", "api", "agent", "portal", "dnc", "reply")
MAX_REASON = 500
OPT_OUT = "contact.opt_out"
UNDO = "contact.opt_out_undo"
_CHUNK = 500  # numbers per IN (...) query; far below every driver's parameter limit


@dataclass(frozen=True, slots=True)
class OptOut:
    """A contact's opt-out state, as the opt-out list shows it."""

    contact_id: str
    name: str
    phone: str | None
    whatsapp: str | None
    opted_out: bool
    reason: str | None
    opted_out_at: dt.datetime | None
    opted_out_by: str | None


@dataclass(frozen=True, slots=True)
class RawPhone:
    """A number as given, with its line in an uploaded file when there is one."""

    value: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class PhoneEntry:
    """One given number and what became of it.

    ``e164`` is set unless the number was invalid (then ``reason`` says why);
    ``contact_ids`` lists the contacts it matched (empty when not found).
    """

    value: str
    line: int | None = None
    e164: str | None = None
    contact_ids: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(slots=True)
class PhoneReport:
    """What a list of numbers did: each number in exactly one of three lists."""

    matched: list[PhoneEntry] = field(default_factory=list)
    not_found: list[PhoneEntry] = field(default_factory=list)
    invalid: list[PhoneEntry] = field(default_factory=list)
    contacts_opted_out: int = 0
    """Contacts newly opted out (those opted out before are not counted)."""
    numbers_listed: int = 0
    """Numbers newly put on the do-not-contact list (matched or not)."""
    _seen: set[str] = field(default_factory=set, repr=False)


def check_request(reason: str, source: str) -> str:
    """The reason, trimmed, once it and the source are acceptable.

    Raises:
        InvalidInput: an empty or too long reason, or an unknown source.
    """
    errors = []
    reason = reason.strip()
    if not reason:
        errors.append(FieldError("reason", "must not be empty"))
    elif len(reason) > MAX_REASON:
        errors.append(FieldError("reason", f"at most {MAX_REASON} characters"))
    if source not in SOURCES:
        errors.append(FieldError("source", f"must be one of {', '.join(SOURCES)}"))
    if errors:
        raise InvalidInput(errors, "invalid opt-out")
    return reason


async def opt_out_contact(
    conn: AsyncConnection, *, org_id: str, contact_id: str, reason: str, actor: str, source: str
) -> OptOut:
    """Opt one contact out of every channel, effective at once.

    Raises:
        NotFound: no such contact in this organization.
        InvalidInput: see :func:`check_request`.
    """
    reason = check_request(reason, source)
    found, _ = await _opt_out(conn, org_id, [contact_id], reason, actor, source, {})
    if not found:
        raise NotFound("contact")
    return await get_opt_out(conn, org_id=org_id, contact_id=contact_id)


async def opt_out_phones(
    conn: AsyncConnection,
    *,
    org_id: str,
    region: str,
    phones: Iterable[str | RawPhone],
    reason: str,
    actor: str,
    source: str,
    report: PhoneReport | None = None,
) -> PhoneReport:
    """Opt out every contact reachable at any of ``phones``.

    Each number is normalised to E.164 in ``region`` (the organization's country) and
    matched against contacts' phone, WhatsApp and alternate numbers. Pass ``report``
    to add to one across several batches of a long list.

    Raises:
        InvalidInput: see :func:`check_request` (bad numbers are reported, not raised).
    """
    reason = check_request(reason, source)
    report = report if report is not None else PhoneReport()
    readable: list[tuple[RawPhone, str]] = []
    for item in phones:
        raw = item if isinstance(item, RawPhone) else RawPhone(item)
        try:
            readable.append((raw, to_e164(raw.value, region)))
        except InvalidPhone as exc:
            report.invalid.append(PhoneEntry(raw.value, raw.line, reason=exc.reason))
    numbers = {e164 for _, e164 in readable}
    report.numbers_listed += await dnc_list.remember(
        conn, org_id=org_id, numbers=numbers, reason=reason, source=source, actor=actor
    )
    owners = await contacts_by_number(conn, org_id, numbers)
    phone_of: dict[str, str] = {}  # contact -> the first number that reached it
    for raw, e164 in readable:
        ids = tuple(sorted(owners.get(e164, ())))
        (report.matched if ids else report.not_found).append(
            PhoneEntry(raw.value, raw.line, e164, ids)
        )
        for contact_id in ids:
            if contact_id not in report._seen:
                phone_of.setdefault(contact_id, e164)
    report._seen.update(phone_of)
    _, newly = await _opt_out(conn, org_id, list(phone_of), reason, actor, source, phone_of)
    report.contacts_opted_out += len(newly)
    return report


async def opt_out_phone(
    conn: AsyncConnection,
    *,
    org_id: str,
    region: str,
    phone: str,
    reason: str,
    actor: str,
    source: str,
) -> list[str]:
    """Opt out the contacts reachable at one number (the agent's and portal's case).

    Returns:
        The ids of the contacts matched (already opted-out ones included); empty when
        the number belongs to no contact of the organization.

    Raises:
        InvalidInput: an unreadable number (field ``phone``), or see
            :func:`check_request`.
    """
    report = await opt_out_phones(
        conn,
        org_id=org_id,
        region=region,
        phones=[phone],
        reason=reason,
        actor=actor,
        source=source,
    )
    if report.invalid:
        raise InvalidInput([FieldError("phone", report.invalid[0].reason or "invalid")])
    return [c for entry in report.matched for c in entry.contact_ids]


async def undo_opt_out(
    conn: AsyncConnection,
    *,
    org_id: str,
    contact_id: str,
    actor: str,
    reason: str | None = None,
    source: str = "individual",
) -> None:
    """Allow contact again; the audit entry keeps what the opt-out was.

    Raises:
        NotFound: no such contact in this organization, or it is not opted out.
        InvalidInput: a reason over :data:`MAX_REASON` characters, an unknown source.
    """
    if reason is not None:
        reason = check_request(reason, source) if reason.strip() else None
    if source not in SOURCES:
        raise InvalidInput([FieldError("source", f"must be one of {', '.join(SOURCES)}")])
    before = (
        await conn.execute(
            select(contacts.c.opted_out_reason, contacts.c.opted_out_at, contacts.c.opted_out_by)
            .where(_mine(org_id), contacts.c.id == contact_id, contacts.c.opted_out.is_(True))
            .with_for_update()
        )
    ).first()
    if before is None:
        raise NotFound("opt-out")
    await conn.execute(
        update(contacts)
        .where(_mine(org_id), contacts.c.id == contact_id)
        .values(opted_out=False, opted_out_reason=None, opted_out_at=None, opted_out_by=None)
    )
    await audit.record(
        conn,
        org_id=org_id,
        actor=actor,
        action=UNDO,
        entity_type="contact",
        entity_id=contact_id,
        reason=reason,
        detail={
            "source": source,
            "opted_out_reason": before.opted_out_reason,
            "opted_out_at": before.opted_out_at.isoformat() if before.opted_out_at else None,
            "opted_out_by": before.opted_out_by,
        },
    )
    await rescore_accounts_of(conn, org_id, [contact_id])
    log.info("contact.opt_out_undone", org_id=org_id, contact_id=contact_id, source=source)


async def get_opt_out(conn: AsyncConnection, *, org_id: str, contact_id: str) -> OptOut:
    """The opt-out state of one contact (``opted_out`` False when it may be contacted).

    Raises:
        NotFound: no such contact in this organization.
    """
    row = (
        await conn.execute(select(*_COLUMNS).where(_mine(org_id), contacts.c.id == contact_id))
    ).first()
    if row is None:
        raise NotFound("contact")
    return OptOut(*row)


async def list_opt_outs(
    conn: AsyncConnection, *, org_id: str, page: int, page_size: int
) -> tuple[list[OptOut], int]:
    """One page of the organization's opted-out contacts, latest first, and the total."""
    where = (_mine(org_id), contacts.c.opted_out.is_(True))
    total = (await conn.execute(select(func.count()).select_from(contacts).where(*where))).scalar()
    rows = await conn.execute(
        select(*_COLUMNS)
        .where(*where)
        .order_by(contacts.c.opted_out_at.desc(), contacts.c.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return [OptOut(*row) for row in rows], int(total or 0)


async def contacts_by_number(
    conn: AsyncConnection, org_id: str, numbers: Iterable[str]
) -> dict[str, set[str]]:
    """E.164 number -> ids of the organization's contacts that have it, as phone,
    WhatsApp or alternate number (in any state: a listed number is never dialled)."""
    owners: dict[str, set[str]] = {}
    for chunk in _chunks(sorted(set(numbers))):
        query = union_all(
            select(contacts.c.phone.label("number"), contacts.c.id.label("contact_id")).where(
                _mine(org_id), contacts.c.phone.in_(chunk)
            ),
            select(contacts.c.whatsapp, contacts.c.id).where(
                _mine(org_id), contacts.c.whatsapp.in_(chunk)
            ),
            select(contact_phones.c.number, contact_phones.c.contact_id).where(
                contact_phones.c.org_id == org_id, contact_phones.c.number.in_(chunk)
            ),
        )
        for number, contact_id in await conn.execute(query):
            owners.setdefault(number, set()).add(contact_id)
    return owners


async def _opt_out(
    conn: AsyncConnection,
    org_id: str,
    contact_ids: Sequence[str],
    reason: str,
    actor: str,
    source: str,
    phone_of: dict[str, str],
) -> tuple[set[str], set[str]]:
    """Flag and audit; returns (contacts found, contacts newly opted out)."""
    was: dict[str, bool] = {}
    for chunk in _chunks(contact_ids):
        rows = await conn.execute(
            select(contacts.c.id, contacts.c.opted_out).where(
                _mine(org_id), contacts.c.id.in_(chunk)
            )
        )
        was.update({row.id: bool(row.opted_out) for row in rows})
    newly = sorted(c for c, before in was.items() if not before)
    now = utcnow()
    for chunk in _chunks(newly):
        await conn.execute(
            update(contacts)
            .where(_mine(org_id), contacts.c.id.in_(chunk), contacts.c.opted_out.is_(False))
            .values(
                opted_out=True,
                opted_out_reason=reason,
                opted_out_at=now,
                opted_out_by=actor[:100],
            )
        )
    for contact_id in sorted(was):
        detail: dict[str, object] = {"source": source}
        if contact_id in phone_of:
            detail["phone"] = phone_of[contact_id]
        if was[contact_id]:
            detail["already_opted_out"] = True
        await audit.record(
            conn,
            org_id=org_id,
            actor=actor,
            action=OPT_OUT,
            entity_type="contact",
            entity_id=contact_id,
            reason=reason,
            detail=detail,
        )
    await rescore_accounts_of(conn, org_id, newly)
    if was:
        log.info(
            "contacts.opted_out", org_id=org_id, source=source, matched=len(was), new=len(newly)
        )
    return set(was), set(newly)


async def rescore_accounts_of(
    conn: AsyncConnection, org_id: str, contact_ids: Sequence[str]
) -> None:
    """An opt-out (or its undo) changes who may be called: rescore the contacts'
    accounts in the same transaction, so the call list never shows a stale priority."""
    for chunk in _chunks(contact_ids):
        account_ids = (
            await conn.execute(
                select(accounts.c.id).where(
                    accounts.c.org_id == org_id, accounts.c.contact_id.in_(chunk)
                )
            )
        ).scalars()
        for account_id in account_ids.all():
            await priority.recalculate(conn, org_id=org_id, account_id=account_id)


_COLUMNS = (
    contacts.c.id,
    contacts.c.name,
    contacts.c.phone,
    contacts.c.whatsapp,
    contacts.c.opted_out,
    contacts.c.opted_out_reason,
    contacts.c.opted_out_at,
    contacts.c.opted_out_by,
)


def _mine(org_id: str) -> ColumnElement[bool]:
    return contacts.c.org_id == org_id


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
