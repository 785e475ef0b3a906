"""Dates the way people write them, with ambiguity resolved by locale and reported."""

from __future__ import annotations

import datetime as dt

import pytest

from backoffice.portfolio.dates import locale_reads_day_first, parse_date
from backoffice.portfolio.normalize import NormalizationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31/12/2026", dt.date(2026, 12, 31)),
        ("2026-12-31", dt.date(2026, 12, 31)),
        ("31-12-26", dt.date(2026, 12, 31)),
        ("31.12.2026", dt.date(2026, 12, 31)),
        ("2026/12/31", dt.date(2026, 12, 31)),
        ("2026-12-31T09:30:00", dt.date(2026, 12, 31)),
        ("31/12/2026 09:30", dt.date(2026, 12, 31)),
        ("20261231", dt.date(2026, 12, 31)),
        ("31 dic 2026", dt.date(2026, 12, 31)),
        ("31 de diciembre de 2026", dt.date(2026, 12, 31)),
        ("1 de março de 2027", dt.date(2027, 3, 1)),
        ("5 set 2026", dt.date(2026, 9, 5)),
        ("Dec 31, 2026", dt.date(2026, 12, 31)),
        ("31-Dec-2026", dt.date(2026, 12, 31)),
        ("1/2/99", dt.date(1999, 2, 1)),
    ],
)
def test_day_first_forms(text: str, expected: dt.date) -> None:
    assert parse_date(text, day_first=True).value == expected


def test_the_locale_decides_ambiguous_dates_and_says_so() -> None:
    spain = parse_date("03/04/2026", day_first=True)
    usa = parse_date("03/04/2026", day_first=False)
    assert spain.value == dt.date(2026, 4, 3) and spain.ambiguous
    assert usa.value == dt.date(2026, 3, 4) and usa.ambiguous
    same = parse_date("04/04/2026", day_first=True)
    assert same.value == dt.date(2026, 4, 4) and not same.ambiguous


def test_a_date_only_readable_against_the_locale_is_read_and_flagged() -> None:
    month_first = parse_date("12/31/2026", day_first=True)
    assert month_first.value == dt.date(2026, 12, 31)
    assert month_first.against_locale and not month_first.ambiguous
    assert not parse_date("12/31/2026", day_first=False).against_locale


def test_locales_know_their_order() -> None:
    assert locale_reads_day_first("es-ES")
    assert locale_reads_day_first("pt-BR")
    assert locale_reads_day_first("es-MX")
    assert locale_reads_day_first("en-GB")
    assert not locale_reads_day_first("en-US")


def test_spreadsheet_cells() -> None:
    assert parse_date(dt.date(2027, 1, 2), day_first=True).value == dt.date(2027, 1, 2)
    assert parse_date(dt.datetime(2027, 1, 2, 13, 0), day_first=True).value == dt.date(2027, 1, 2)
    serial = parse_date(46387.0, day_first=True)
    assert serial.value == dt.date(2026, 12, 31) and serial.serial
    assert parse_date("46387", day_first=True).value == dt.date(2026, 12, 31)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("31/02/2026", "no such date"),
        ("2026-02-30", "no such date"),
        ("13/13/2026", "no such date"),
        ("mañana", "not a date"),
        ("31/12", "not a date"),
        (3.5, "not a date"),
        (12, "not a date"),  # a day number too small to be a due date
        (dt.time(10, 0), "not a date"),
        ("", "empty"),
    ],
)
def test_refused_dates_say_why(value: object, reason: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        parse_date(value, day_first=True)  # type: ignore[arg-type]
    assert reason in caught.value.reason


@pytest.mark.parametrize("day_first", [True, False])
def test_every_day_of_three_years_reads_back_in_every_form(day_first: bool) -> None:
    day = dt.date(2025, 1, 1)
    while day < dt.date(2028, 1, 1):
        d, m, y = day.day, day.month, day.year
        local = f"{d:02d}/{m:02d}/{y}" if day_first else f"{m:02d}/{d:02d}/{y}"
        short = f"{d}-{m}-{y % 100:02d}" if day_first else f"{m}-{d}-{y % 100:02d}"
        for text in (day.isoformat(), local, short, day.strftime("%Y%m%d")):
            parsed = parse_date(text, day_first=day_first)
            assert parsed.value == day, text
            assert parsed.ambiguous == (text in (local, short) and d <= 12 and d != m), text
            assert not parsed.against_locale
        day += dt.timedelta(days=1)
