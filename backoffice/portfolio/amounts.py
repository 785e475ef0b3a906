"""Reading money the way a person wrote it: "1.234,56", "1,234.56", "$ 1 234", "€1.234,00".

Rules, in order:

1. A currency symbol or ISO code around the number is noted and removed ("€", "R$",
   "EUR", "US$"); it must agree with the row's currency.
2. A minus sign or parentheses mean a negative amount: refused, an account is money
   owed (zero or more).
3. Spaces (also non-breaking and thin ones) and apostrophes only ever group thousands.
4. With both "." and ",", the last one is the decimal separator.
5. With one of them, repeated, it groups thousands ("1.234.567").
6. With one of them once: followed by anything but three digits it is the decimal
   separator ("1234,5", "12.34"); followed by exactly three digits ("1.234") it is
   read as the organization's locale writes numbers, decimal if it is the locale's
   decimal symbol, thousands otherwise.
7. Thousands groups must be three digits, and an amount may not carry more decimals
   than its currency has (EUR 2, JPY 0, KWD 3): "1,234" in es-ES reads as 1.234 and
   is refused, rather than silently becoming 1 or 1234.

Numbers from spreadsheet cells are already numbers: only the sign and the currency's
decimals are checked, and binary-float noise is rounded to the currency's precision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision

from backoffice.portfolio.normalize import (
    CURRENCY_SYMBOLS,
    Cell,
    NormalizationError,
    is_currency,
    quoted,
    uses_dollar_sign,
)

_SPACES = re.compile(r"[\s\u00a0\u2007\u2009\u202f']+")
_MARKERS = re.compile(r"US\$|U\$S|R\$|S/|[€£$]|\b[A-Za-z]{3}\b")
_NUMBER = re.compile(r"^[0-9., ]*[0-9][0-9., ]*$")


@dataclass(frozen=True, slots=True)
class Amount:
    value: Decimal
    currency_hint: str | None  # the currency the text named, if it named one


@lru_cache(maxsize=64)
def currency_places(currency: str) -> int:
    return int(get_currency_precision(currency))


def parse_amount(value: Cell, *, currency: str, decimal_symbol: str) -> Amount:
    """The amount in ``value``, in ``currency``, rounded to its minor unit.

    Args:
        value: a cell: text as typed, or a number from a spreadsheet.
        currency: the row's ISO 4217 currency (decides how many decimals are allowed).
        decimal_symbol: the organization locale's decimal symbol ("," or "."), used
            only for a lone separator followed by three digits.

    Raises:
        NormalizationError: empty, negative, not a number, or more decimals than the
            currency allows; the reason quotes the value.
    """
    places = currency_places(currency)
    if isinstance(value, bool) or value is None:
        raise NormalizationError("empty" if value is None else "not an amount")
    if isinstance(value, int | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            raise NormalizationError("not an amount")
        if number < 0:
            raise NormalizationError(f"negative amount ({value}): only amounts owed are accepted")
        return Amount(_quantize(number, places), None)
    if not isinstance(value, str):
        raise NormalizationError("not an amount")
    text = value.strip()
    if not text:
        raise NormalizationError("empty")
    return _parse_text(text, places, decimal_symbol, currency)


def _quantize(number: Decimal, places: int) -> Decimal:
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _parse_text(text: str, places: int, decimal_symbol: str, currency: str) -> Amount:
    hint = None
    body = text
    for marker in _MARKERS.findall(text):
        code = _currency_of(marker, currency)
        if code is None:
            raise NormalizationError(f"not an amount: {quoted(text)}")
        if hint is not None and code != hint:
            raise NormalizationError(f"two currencies in one amount: {quoted(text)}")
        hint = code
        body = body.replace(marker, " ", 1)
    body = body.strip()
    if (body.startswith("(") and body.endswith(")")) or "-" in body or "\u2212" in body:
        raise NormalizationError(f"negative amount ({text[:40]}): only amounts owed are accepted")
    body = body.removeprefix("+").strip()
    body = _SPACES.sub(" ", body)
    if not _NUMBER.match(body):
        raise NormalizationError(f"not an amount: {quoted(text)}")
    number = _interpret(body, decimal_symbol, text)
    significant = number.normalize()
    exponent = significant.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise NormalizationError(
            f"{quoted(text)} reads as {number}: more decimals than {currency} has ({places})"
        )
    return Amount(_quantize(number, places), hint)


def _currency_of(marker: str, currency: str) -> str | None:
    if marker == "$":
        return currency if uses_dollar_sign(currency) else "USD"
    code = CURRENCY_SYMBOLS.get(marker)
    if code is not None:
        return code
    upper = marker.upper()
    return upper if marker.isupper() and is_currency(upper) else None


def _interpret(body: str, decimal_symbol: str, text: str) -> Decimal:
    separators = [c for c in body if not c.isdigit()]
    if not separators:
        return Decimal(body)
    marks = [c for c in separators if c in ".,"]
    kinds = set(marks)
    if len(kinds) == 2:
        decimal = marks[-1]
        if marks.count(decimal) != 1:
            raise NormalizationError(f"not a well-formed amount: {quoted(text)}")
        whole, fraction = body.rsplit(decimal, 1)
        return _compose(whole, fraction, text)
    if not kinds:  # only spaces: thousands
        return _compose(body, "", text)
    mark = marks[0]
    if len(marks) > 1:
        return _compose(body, "", text)
    whole, fraction = body.split(mark)
    fraction = fraction.strip()
    if len(fraction) == 3 and mark != decimal_symbol and _grouped(whole.replace(" ", ""), 3):
        return _compose(body, "", text)
    return _compose(whole, fraction, text)


def _grouped(whole: str, limit: int) -> bool:
    return 1 <= len(whole) <= limit


def _compose(whole: str, fraction: str, text: str) -> Decimal:
    """Digits of the integer part, checking thousands groups are of three."""
    if not fraction.isdigit() and fraction:
        raise NormalizationError(f"not a well-formed amount: {quoted(text)}")
    whole = whole.strip() or ("0" if fraction else "")  # ".5" is 0.5
    groups = re.split(r"[., ]", whole)
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])):
        raise NormalizationError(f"not a well-formed amount: {quoted(text)}")
    if not all(g.isdigit() for g in groups):
        raise NormalizationError(f"not a well-formed amount: {quoted(text)}")
    try:
        return Decimal("".join(groups) + ("." + fraction if fraction else ""))
    except InvalidOperation:
        raise NormalizationError(f"not an amount: {quoted(text)}") from None
