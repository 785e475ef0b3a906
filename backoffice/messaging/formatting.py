"""Amounts, dates and the balance breakdown, written the way the reader's language does.

The locale is the effective language tag (``es-MX``) or, for a bare language, that
language in the organization's country when CLDR knows the pair (``es`` in ``AR`` is
``es_AR``), else the bare language. So 1250.5 EUR is ``1.250,50 €`` for Spain and
``$1,250.50`` USD for an American reader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency

from backoffice.accounts.models import DebtItem
from backoffice.messaging.templates import labels

NO_DATE = "—"


def babel_locale(language: str, country: str | None = None) -> str:
    tag = language.replace("-", "_")
    if "_" in tag or not country:
        return tag
    candidate = f"{tag}_{country.upper()}"
    try:
        Locale.parse(candidate)
    except (ValueError, UnknownLocaleError):
        return tag
    return candidate


def money(amount: Decimal, currency: str, locale: str) -> str:
    return str(format_currency(amount, currency, locale=locale))


def long_date(value: dt.date | None, locale: str) -> str:
    return NO_DATE if value is None else str(format_date(value, format="long", locale=locale))


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Totals per kind of the account's debt items, counted by the ledger's rule
    (``backoffice.accounts.ledger``): charges unless cancelled, payments once applied,
    so the lines always add up to the pending balance."""

    capital: Decimal
    interest: Decimal
    fees: Decimal
    payments: Decimal

    @classmethod
    def of(cls, items: Iterable[DebtItem]) -> Breakdown:
        totals = {"capital": Decimal(0), "interest": Decimal(0), "fees": Decimal(0)}
        payments = Decimal(0)
        for item in items:
            if item.kind == "payment":
                if item.state == "applied":
                    payments += item.amount
            elif item.state != "cancelled":
                totals[item.kind] += item.amount
        return cls(totals["capital"], totals["interest"], totals["fees"], payments)

    def lines(self, currency: str, language: str, locale: str) -> list[str]:
        """``Capital: 1.000,00 €`` per kind that has an amount, in ``language``."""
        words = labels(language)
        parts = [
            ("capital", self.capital),
            ("interest", self.interest),
            ("fees", self.fees),
            ("payment", -self.payments),
        ]
        return [
            f"{words[kind]}: {money(amount, currency, locale)}" for kind, amount in parts if amount
        ]
