"""Reading dates the way a person wrote them, and saying so when it had to choose.

Accepted forms:

- ISO and other year-first forms: "2026-12-31", "2026/12/31", "2026-12-31T10:00";
- day and month with a 2- or 4-digit year: "31/12/2026", "31-12-26", "31.12.2026",
  and month-first "12/31/2026"; two-digit years are 2000-2069 or 1970-1999;
- a month by name in Spanish, English or Portuguese: "31 dic 2026",
  "31 de diciembre de 2026", "Dec 31, 2026", "31-Dec-2026";
- compact "20261231";
- spreadsheet date cells (already dates), and day serials of spreadsheets whose date
  formatting was lost (a number such as 46387 in a date column).

When both numbers could be the month ("03/04/2026"), the organization's locale
decides: day-first unless its short date pattern puts the month first (en-US). The
result is flagged ``ambiguous`` so that the caller can say which way it read them;
a date that could only be read against the locale ("12/31/2026" in es-ES) is flagged
``against_locale``, a hint that the ambiguous ones of the file may be wrong too.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import get_month_names

from backoffice.portfolio.normalize import Cell, NormalizationError, quoted

SPREADSHEET_EPOCH = dt.date(1899, 12, 30)  # day 0 of Excel's 1900 system (and of LibreOffice)
SERIAL_RANGE = range(20_000, 80_001)  # 1954-10-03 .. 2119-01-11: plausible due dates only

_YEAR_FIRST = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$")
_YEAR_LAST = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})(?:[ T]\d{1,2}:\d{2}.*)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{5}(?:[.,]0+)?$")
_DAY_NAME_YEAR = re.compile(
    r"^(\d{1,2})(?:º|o)?[\s\-/.]+(?:de\s+)?([a-z]+)\.?[\s\-/.,]+(?:de\s+)?(\d{4}|\d{2})$"
)
_NAME_DAY_YEAR = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")


@dataclass(frozen=True, slots=True)
class ParsedDate:
    value: dt.date
    ambiguous: bool = False  # day and month could swap; the locale chose
    against_locale: bool = False  # only readable in the order the locale does not use
    serial: bool = False  # read from a spreadsheet day number


@lru_cache(maxsize=64)
def locale_reads_day_first(locale: str) -> bool:
    """Whether ``locale`` writes the day before the month (es-ES yes, en-US no)."""
    try:
        pattern = Locale.parse(locale.replace("-", "_")).date_formats["short"].pattern
    except (ValueError, UnknownLocaleError):
        return True
    day, month = pattern.find("d"), pattern.find("M")
    return not (0 <= month < day) if day >= 0 else True


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=1)
def _months() -> dict[str, int]:
    names: dict[str, int] = {}
    for language in ("es", "en", "pt"):
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                for number, name in get_month_names(width, context, language).items():
                    names[_fold(str(name)).rstrip(".")] = number
    names.update({"set": 9, "sept": 9, "sep": 9, "dic": 12, "dez": 12})
    return names


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _make(year: int, month: int, day: int, original: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise NormalizationError(f"no such date: {quoted(original)}") from None


def parse_date(value: Cell, *, day_first: bool) -> ParsedDate:
    """The date in ``value``.

    Args:
        value: a cell: text as typed, a spreadsheet date, or a spreadsheet day number.
        day_first: how the organization's locale writes dates; decides "03/04/2026".

    Raises:
        NormalizationError: not a date, or no such date ("31/02/2026").
    """
    if isinstance(value, dt.datetime):
        return ParsedDate(value.date())
    if isinstance(value, dt.date):
        return ParsedDate(value)
    if isinstance(value, bool) or value is None:
        raise NormalizationError("empty" if value is None else "not a date")
    if isinstance(value, int | float):
        return _from_serial(value, str(value))
    if not isinstance(value, str):
        raise NormalizationError("not a date")
    text = value.strip()
    if not text:
        raise NormalizationError("empty")
    return _parse_text(text, day_first)


def _from_serial(number: float, original: str) -> ParsedDate:
    if not float(number).is_integer() or int(number) not in SERIAL_RANGE:
        raise NormalizationError(f"not a date: {quoted(original)}")
    return ParsedDate(SPREADSHEET_EPOCH + dt.timedelta(days=int(number)), serial=True)


def _parse_text(text: str, day_first: bool) -> ParsedDate:
    if match := _YEAR_FIRST.match(text):
        year, month, day = (int(g) for g in match.groups())
        return ParsedDate(_make(year, month, day, text))
    if match := _YEAR_LAST.match(text):
        return _day_and_month(int(match[1]), int(match[2]), _year(match[3]), text, day_first)
    if match := _COMPACT.match(text):
        year, month, day = (int(g) for g in match.groups())
        return ParsedDate(_make(year, month, day, text))
    if _SERIAL.match(text):
        return _from_serial(float(text.replace(",", ".")), text)
    folded = _fold(text)
    if match := _DAY_NAME_YEAR.match(folded):
        named = _months().get(match[2])
        if named is not None:
            return ParsedDate(_make(_year(match[3]), named, int(match[1]), text))
    if match := _NAME_DAY_YEAR.match(folded):
        named = _months().get(match[1])
        if named is not None:
            return ParsedDate(_make(int(match[3]), named, int(match[2]), text))
    raise NormalizationError(f"not a date: {quoted(text)}")


def _day_and_month(first: int, second: int, year: int, text: str, day_first: bool) -> ParsedDate:
    if first > 12 and second > 12:
        raise NormalizationError(f"no such date: {quoted(text)}")
    if first > 12 or second > 12:
        # Only one reading exists; note when it is not the locale's.
        reads_day_first = first > 12
        day, month = (first, second) if reads_day_first else (second, first)
        return ParsedDate(
            _make(year, month, day, text), against_locale=reads_day_first != day_first
        )
    day, month = (first, second) if day_first else (second, first)
    return ParsedDate(_make(year, month, day, text), ambiguous=first != second)
