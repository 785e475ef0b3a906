"""Contact values the way a person means them: phones, emails, languages, zones, currencies.

Shared helpers: anything that takes a phone number, a language or a time zone from
outside (imports, DNC lists, opt-outs, the agent's tools) should go through these,
so one number is written one way everywhere (E.164) and one refusal reads the same
everywhere. Every function either returns the canonical value or raises
:class:`NormalizationError` whose ``reason`` a person can act on; none of them
returns a "maybe".

Cells may come from a spreadsheet, so a value can be a number: ``612345678.0`` is
the phone a spreadsheet made of ``612345678``, and :func:`cell_text` turns it back.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from functools import lru_cache

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_symbol, list_currencies

# One cell of a file, as the readers hand it over.
Cell = str | int | float | bool | dt.date | dt.datetime | dt.time | dt.timedelta | None

LANGUAGES = ("es", "en", "pt")


class NormalizationError(ValueError):
    """A value that cannot be read as what its field needs; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def quoted(text: str, limit: int = 40) -> str:
    """``text`` quoted for a reason, cut short: a reason names a value, it is not a dump."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def cell_text(value: Cell) -> str | None:
    """The text a person sees in a cell, trimmed; None for an empty cell.

    Whole numbers lose the ``.0`` a spreadsheet gives them (``1234.0`` -> ``"1234"``),
    which matters for codes and phone numbers stored as numbers.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


# --- phones -------------------------------------------------------------------------

_SEVERAL = re.compile(r"\s*[/;,|]\s*|\s+(?:y|o|e|ou|or|and)\s+", re.IGNORECASE)


def normalize_phone(value: Cell, country: str) -> str:
    """One phone number in E.164, read with ``country`` for national forms.

    Accepts what people type ("612 34 56 78", "+34 612-345-678", "0034612345678",
    "(55) 1234-5678") and what spreadsheets make of it (``34612345678.0``, where the
    "+" was lost: the country code is recognised and stripped by ``phonenumbers``).

    Raises:
        NormalizationError: not a phone number, or not a valid one for its country.
    """
    text = cell_text(value)
    if text is None:
        raise NormalizationError("empty")
    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException:
        raise NormalizationError(f"not a phone number: {quoted(text)}") from None
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_number(number) or country
        raise NormalizationError(f"not a valid {region} phone number: {quoted(text)}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def split_phones(value: Cell) -> list[str]:
    """The numbers in a cell that holds several ("612345678 / 699111222")."""
    text = cell_text(value)
    if text is None:
        return []
    return [part for part in _SEVERAL.split(text) if part.strip()]


# --- emails -------------------------------------------------------------------------

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_email(value: Cell) -> str:
    """An email address with its domain lower-cased (the local part is kept as given).

    Checks the form only; whether the mailbox exists is for the mail provider.

    Raises:
        NormalizationError: naming what is wrong with the address.
    """
    text = cell_text(value)
    if text is None:
        raise NormalizationError("empty")
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if any(c.isspace() for c in text) or text.count("@") != 1:
        if re.search(r"[;,\s]", text) and text.count("@") > 1:
            raise NormalizationError("one email address per cell")
        raise NormalizationError(f"not an email address: {quoted(text)}")
    local, domain = text.split("@")
    domain = domain.lower().rstrip(".")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise NormalizationError(f"not a valid email domain: {quoted(domain)}") from None
    labels = domain.split(".")
    if (
        not local
        or len(local) > 64
        or not _LOCAL.match(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise NormalizationError(f"not an email address: {quoted(text)}")
    address = f"{local}@{domain}"
    if len(address) > 254:
        raise NormalizationError("email address longer than 254 characters")
    return address


# --- languages ----------------------------------------------------------------------

_LANGUAGE_NAMES = {
    "es": ("espanol", "español", "castellano", "spanish", "espanhol"),
    "en": ("ingles", "inglés", "english", "inglês"),
    "pt": ("portugues", "português", "portuguese", "portugués"),
}
_BY_NAME = {name: code for code, names in _LANGUAGE_NAMES.items() for name in names}


def normalize_language(value: Cell) -> str:
    """``es``, ``en`` or ``pt``, or one of them with a region (``es-MX``, ``pt-BR``).

    Also takes the language's name in Spanish, English or Portuguese ("Español",
    "Portuguese") and ``_`` for ``-`` (``pt_BR``).

    Raises:
        NormalizationError: a language parley does not speak, or an unknown region.
    """
    text = cell_text(value)
    if text is None:
        raise NormalizationError("empty")
    named = _BY_NAME.get(text.casefold())
    if named is not None:
        return named
    parts = re.split(r"[-_]", text)
    language = parts[0].lower()
    if language not in LANGUAGES or len(parts) > 2:
        raise NormalizationError(
            f"not a supported language: {quoted(text)} (es, en or pt, or a locale such as es-MX)"
        )
    if len(parts) == 1:
        return language
    region = parts[1].upper()
    try:
        Locale.parse(f"{language}_{region}")
    except (ValueError, UnknownLocaleError):
        raise NormalizationError(f"not a known locale: {quoted(text)}") from None
    return f"{language}-{region}"


# --- time zones ---------------------------------------------------------------------

_OFFSET = re.compile(r"^(utc|gmt)?\s*[+-]\s*\d{1,2}(:?\d{2})?$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _zones_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def normalize_timezone(value: Cell) -> str:
    """An IANA time zone name, spelled as the tz database spells it.

    Raises:
        NormalizationError: for offsets ("GMT-5": they ignore daylight saving, so
            contact hours would drift) and unknown names.
    """
    text = cell_text(value)
    if text is None:
        raise NormalizationError("empty")
    if _OFFSET.match(text):
        raise NormalizationError(
            f"{quoted(text)} is an offset, not a time zone (it ignores daylight saving time); "
            "use an IANA name such as America/Bogota"
        )
    name = _zones_by_folded_name().get(text.replace(" ", "_").casefold())
    if name is None:
        raise NormalizationError(
            f"not an IANA time zone: {quoted(text)} (such as Europe/Madrid or America/Mexico_City)"
        )
    return name


# --- currencies ---------------------------------------------------------------------

CURRENCY_SYMBOLS = {"€": "EUR", "£": "GBP", "R$": "BRL", "US$": "USD", "U$S": "USD", "S/": "PEN"}


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_currency(code: str) -> bool:
    return code in _currencies()


def uses_dollar_sign(currency: str) -> bool:
    """Whether people write ``currency`` with a bare "$" (USD, MXN, ARS, COP, ...)."""
    return "$" in get_currency_symbol(currency, "en") or "$" in get_currency_symbol(currency, "es")


def normalize_currency(value: Cell, default: str) -> str:
    """An ISO 4217 code from a code or a symbol ("eur", "€", "R$").

    A bare "$" means ``default`` when that currency is written with "$" (an
    organization in Mexico means pesos), and is refused otherwise.

    Raises:
        NormalizationError: not a currency, or a "$" that cannot be told apart.
    """
    text = cell_text(value)
    if text is None:
        raise NormalizationError("empty")
    code = CURRENCY_SYMBOLS.get(text.upper()) or CURRENCY_SYMBOLS.get(text)
    if code is not None:
        return code
    if text == "$":
        if uses_dollar_sign(default):
            return default
        raise NormalizationError("'$' names several currencies; give the ISO code (USD, MXN...)")
    if is_currency(text.upper()):
        return text.upper()
    raise NormalizationError(f"not an ISO 4217 currency code: {quoted(text)}")
