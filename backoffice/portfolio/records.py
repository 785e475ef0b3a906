"""One row (or one JSON item) to one account record, or the reasons it is refused.

Every field of the row is checked, not just up to the first problem, so a person
fixing a file sees all of a row's problems at once. A field that is absent or empty
is "not given": on insert it takes its default (the organization's currency, the
total as pending balance), on update it leaves the stored value alone.

Some readings succeed but deserve a word (an ambiguous date read as the locale
writes dates, a balance above the total, a second phone that is not valid); they
come back as :class:`Note` values, which the report counts rather than repeats.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any

from babel import Locale, UnknownLocaleError

from backoffice.errors import FieldError
from backoffice.orgs.models import Organization
from backoffice.portfolio.amounts import parse_amount
from backoffice.portfolio.dates import locale_reads_day_first, parse_date
from backoffice.portfolio.documents import DocumentFingerprint, fingerprint_document
from backoffice.portfolio.fields import MAX_LENGTH, ImportField
from backoffice.portfolio.normalize import (
    Cell,
    NormalizationError,
    cell_text,
    normalize_currency,
    normalize_email,
    normalize_language,
    normalize_phone,
    normalize_timezone,
    split_phones,
)

F = ImportField


class NoteKind(StrEnum):
    DATE_AMBIGUOUS = "date_ambiguous"
    DATE_AGAINST_LOCALE = "date_against_locale"
    DATE_SERIAL = "date_serial"
    PENDING_OVER_TOTAL = "pending_over_total"
    EXTRA_PHONE_DROPPED = "extra_phone_dropped"
    DUPLICATE_EXTERNAL_ID = "duplicate_external_id"


def _by_fields(cls: type[Any]) -> Callable[[Any], tuple[Any, tuple[Any, ...]]]:
    """A ``__reduce__`` that pickles by field order.

    The reader process pickles outcomes by the hundred thousand; the ``__setstate__``
    that dataclasses give slotted classes looks up the fields on every object and
    cost more than reading the rows (2.3 s per 100,000 rows, profiled).
    """
    names = tuple(f.name for f in fields(cls))

    def reduce(self: Any) -> tuple[Any, tuple[Any, ...]]:
        return cls, tuple(getattr(self, name) for name in names)

    return reduce


@dataclass(frozen=True, slots=True)
class Note:
    kind: NoteKind
    field: ImportField
    text: str  # what was read, e.g. "03/04/2026 -> 2026-04-03"


Note.__reduce__ = _by_fields(Note)  # type: ignore[assignment,method-assign]


@dataclass(frozen=True, slots=True)
class ImportContext:
    """What reading a row depends on: the organization's country, locale and currency."""

    country: str
    locale: str
    currency: str
    day_first: bool
    decimal_symbol: str
    document_key: bytes

    @classmethod
    def for_organization(cls, org: Organization, document_key: bytes) -> ImportContext:
        try:
            symbols = Locale.parse(org.locale.replace("-", "_")).number_symbols["latn"]
            decimal = str(symbols["decimal"])
        except (ValueError, KeyError, UnknownLocaleError):
            decimal = ","
        return cls(
            org.country,
            org.locale,
            org.currency,
            locale_reads_day_first(org.locale),
            decimal,
            document_key,
        )


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """A row as it will be stored; None means "not given"."""

    position: int
    contact_name: str
    total_amount: Decimal
    pending_balance: Decimal | None = None
    currency: str | None = None
    due_date: dt.date | None = None
    reference: str | None = None
    external_id: str | None = None
    notes: str | None = None
    email: str | None = None
    phone: str | None = None
    alternate_phones: tuple[str, ...] = ()
    whatsapp: str | None = None
    document: DocumentFingerprint | None = None
    language: str | None = None
    timezone: str | None = None

    def shown(self, default_currency: str) -> dict[str, Any]:
        """The values as a person should see them (JSON-ready; the document as last 4)."""
        return {
            "contact_name": self.contact_name,
            "total_amount": str(self.total_amount),
            "pending_balance": str(self.pending_balance)
            if self.pending_balance is not None
            else None,
            "currency": self.currency or default_currency,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "reference": self.reference,
            "external_id": self.external_id,
            "notes": self.notes,
            "email": self.email,
            "phone": self.phone,
            "alternate_phones": list(self.alternate_phones),
            "whatsapp": self.whatsapp,
            "document_last4": self.document.last4 if self.document else None,
            "language": self.language,
            "timezone": self.timezone,
        }


@dataclass(frozen=True, slots=True)
class RowOutcome:
    position: int
    record: AccountRecord | None
    errors: tuple[FieldError, ...] = ()
    notes: tuple[Note, ...] = ()


AccountRecord.__reduce__ = _by_fields(AccountRecord)  # type: ignore[assignment,method-assign]
RowOutcome.__reduce__ = _by_fields(RowOutcome)  # type: ignore[assignment,method-assign]


@dataclass
class _Reading:
    values: Mapping[ImportField, Cell]
    errors: list[FieldError] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def given(self, fld: ImportField) -> bool:
        value = self.values.get(fld)
        return value is not None and (not isinstance(value, str) or bool(value.strip()))

    def read(self, fld: ImportField, parse: Callable[[Cell], Any]) -> Any:
        """``parse(value)`` when the field is given; None when not or refused."""
        if not self.given(fld):
            return None
        try:
            return parse(self.values[fld])
        except NormalizationError as exc:
            self.errors.append(FieldError(fld.value, exc.reason))
            return None

    def text(self, fld: ImportField) -> str | None:
        value = cell_text(self.values.get(fld))
        if value is None:
            return None
        if fld is not F.NOTES:
            value = " ".join(value.split())
        limit = MAX_LENGTH.get(fld)
        if limit is not None and len(value) > limit:
            self.errors.append(FieldError(fld.value, f"longer than {limit} characters"))
            return None
        return value


def build_record(
    position: int, values: Mapping[ImportField, Cell], ctx: ImportContext
) -> RowOutcome:
    """Read one row. ``values`` holds the mapped fields' cells (or a JSON item's values)."""
    r = _Reading(values)
    name = r.text(F.CONTACT_NAME)
    if name is None and not any(e.field == F.CONTACT_NAME for e in r.errors):
        r.errors.append(FieldError(F.CONTACT_NAME.value, "required: the contact's name"))
    currency = r.read(F.CURRENCY, lambda v: normalize_currency(v, ctx.currency))
    row_currency = currency or ctx.currency
    total = _amount(r, F.TOTAL_AMOUNT, row_currency, ctx)
    if total is None and not r.given(F.TOTAL_AMOUNT):
        r.errors.append(FieldError(F.TOTAL_AMOUNT.value, "required: the amount owed"))
    elif total is not None and total <= 0:
        r.errors.append(FieldError(F.TOTAL_AMOUNT.value, "must be greater than zero"))
    pending = _amount(r, F.PENDING_BALANCE, row_currency, ctx)
    if pending is not None and total is not None and pending > total:
        r.notes.append(Note(NoteKind.PENDING_OVER_TOTAL, F.PENDING_BALANCE, f"{pending}"))
    due = _due_date(r, ctx)
    phone, alternates = _phones(r, ctx)
    document = r.read(F.DOCUMENT, lambda v: fingerprint_document(v, ctx.document_key))
    record = AccountRecord(
        position=position,
        contact_name=name or "",
        total_amount=total or Decimal(0),
        pending_balance=pending,
        currency=currency,
        due_date=due,
        reference=r.text(F.REFERENCE),
        external_id=r.text(F.EXTERNAL_ID),
        notes=r.text(F.NOTES),
        email=r.read(F.EMAIL, normalize_email),
        phone=phone,
        alternate_phones=alternates,
        whatsapp=r.read(F.WHATSAPP, lambda v: normalize_phone(v, ctx.country)),
        document=document,
        language=r.read(F.LANGUAGE, normalize_language),
        timezone=r.read(F.TIMEZONE, normalize_timezone),
    )
    if r.errors:
        return RowOutcome(position, None, tuple(r.errors), tuple(r.notes))
    return RowOutcome(position, record, (), tuple(r.notes))


def _amount(r: _Reading, fld: ImportField, currency: str, ctx: ImportContext) -> Decimal | None:
    amount = r.read(
        fld, lambda v: parse_amount(v, currency=currency, decimal_symbol=ctx.decimal_symbol)
    )
    if amount is None:
        return None
    if amount.currency_hint is not None and amount.currency_hint != currency:
        r.errors.append(
            FieldError(
                fld.value,
                f"written in {amount.currency_hint}, but the account's currency is {currency}",
            )
        )
        return None
    value: Decimal = amount.value
    return value


def _due_date(r: _Reading, ctx: ImportContext) -> dt.date | None:
    parsed = r.read(F.DUE_DATE, lambda v: parse_date(v, day_first=ctx.day_first))
    if parsed is None:
        return None
    raw = cell_text(r.values.get(F.DUE_DATE)) or ""
    shown = f"{raw} -> {parsed.value.isoformat()}"
    if parsed.ambiguous:
        r.notes.append(Note(NoteKind.DATE_AMBIGUOUS, F.DUE_DATE, shown))
    if parsed.against_locale:
        r.notes.append(Note(NoteKind.DATE_AGAINST_LOCALE, F.DUE_DATE, shown))
    if parsed.serial:
        r.notes.append(Note(NoteKind.DATE_SERIAL, F.DUE_DATE, shown))
    value: dt.date = parsed.value
    return value


def _phones(r: _Reading, ctx: ImportContext) -> tuple[str | None, tuple[str, ...]]:
    """The first number of the phone cell, and any further ones that are valid."""
    if not r.given(F.PHONE):
        return None, ()
    value = r.values[F.PHONE]
    parts = (split_phones(value) if isinstance(value, str) else [value]) or [value]
    first = r.read(F.PHONE, lambda _: normalize_phone(parts[0], ctx.country))
    alternates: list[str] = []
    for part in parts[1:]:
        try:
            number = normalize_phone(part, ctx.country)
        except NormalizationError as exc:
            r.notes.append(Note(NoteKind.EXTRA_PHONE_DROPPED, F.PHONE, exc.reason))
            continue
        if number != first and number not in alternates:
            alternates.append(number)
    return first, tuple(alternates)
