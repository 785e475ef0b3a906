"""Amounts the way people write them, and the ones that must be refused."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from backoffice.portfolio.amounts import parse_amount
from backoffice.portfolio.normalize import NormalizationError


def es(value: object, currency: str = "EUR") -> Decimal:
    return parse_amount(value, currency=currency, decimal_symbol=",").value  # type: ignore[arg-type]


def us(value: object, currency: str = "USD") -> Decimal:
    return parse_amount(value, currency=currency, decimal_symbol=".").value  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("$ 1 234", "1234.00"),
        ("1234", "1234.00"),
        ("1.234", "1234.00"),  # thousands: es-ES groups with "."
        ("€1.234,00", "1234.00"),
        ("1.234,00 €", "1234.00"),
        ("EUR 1.234,5", "1234.50"),
        ("1\u00a0234,56", "1234.56"),  # non-breaking space, as Excel's French/Spanish export
        ("1\u202f234,56", "1234.56"),  # narrow no-break space
        ("1'234.50", "1234.50"),
        ("1.234.567", "1234567.00"),
        ("1.234.567,89", "1234567.89"),
        ("12,5", "12.50"),
        ("12.50", "12.50"),  # two decimals: a decimal point whatever the locale
        ("0,99", "0.99"),
        (",50", "0.50"),
        ("+100", "100.00"),
        ("  42  ", "42.00"),
    ],
)
def test_spanish_organization_reads_amounts_as_meant(text: str, expected: str) -> None:
    assert es(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234", "1234.00"),  # thousands: en-US groups with ","
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),  # both separators: the last one is the decimal
        ("$1,234,567.89", "1234567.89"),
        ("US$ 10", "10.00"),
        ("12.5", "12.50"),
    ],
)
def test_us_organization_reads_amounts_as_meant(text: str, expected: str) -> None:
    assert us(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-50,00", "negative"),
        ("50,00-", "negative"),
        ("(12,00)", "negative"),
        ("\u221212", "negative"),  # a real minus sign
        ("abc", "not an amount"),
        ("12 34", "not a well-formed amount"),  # groups of three only
        ("1.23.4", "not a well-formed amount"),
        ("1,234", "more decimals than EUR"),  # es-ES reads 1.234: three decimals
        ("1.234,567", "more decimals than EUR"),
        ("1e5", "not an amount"),
        ("", "empty"),
        ("€ 10 USD", "two currencies"),
    ],
)
def test_refused_amounts_say_why(text: str, reason: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        es(text)
    assert reason in caught.value.reason


def test_the_currency_decides_how_many_decimals() -> None:
    assert es("1.234", "JPY") == Decimal(1234)
    with pytest.raises(NormalizationError, match="JPY"):
        us("12.5", "JPY")
    assert parse_amount("1,234", currency="KWD", decimal_symbol=",").value == Decimal("1.234")


def test_symbols_are_reported_so_the_row_can_check_its_currency() -> None:
    assert parse_amount("R$ 10,00", currency="EUR", decimal_symbol=",").currency_hint == "BRL"
    assert parse_amount("$ 10", currency="MXN", decimal_symbol=".").currency_hint == "MXN"
    assert parse_amount("$ 10", currency="EUR", decimal_symbol=",").currency_hint == "USD"
    assert parse_amount("10", currency="EUR", decimal_symbol=",").currency_hint is None


def test_spreadsheet_numbers_are_taken_as_numbers() -> None:
    assert es(1234.56) == Decimal("1234.56")
    assert es(0.1 + 0.2) == Decimal("0.30")  # binary-float noise, rounded to cents
    assert es(350) == Decimal("350.00")
    with pytest.raises(NormalizationError, match="negative"):
        es(-150.0)
    with pytest.raises(NormalizationError):
        es(True)


def _written(value: Decimal, style: str, rng: random.Random) -> str:
    """``value`` as a person might type it in ``style`` ("es" or "en")."""
    whole, cents = f"{value:.2f}".split(".")
    group, decimal = (".", ",") if style == "es" else (",", ".")
    grouped = f"{int(whole):,}".replace(",", group) if rng.random() < 0.5 else whole
    text = grouped if cents == "00" and rng.random() < 0.3 else f"{grouped}{decimal}{cents}"
    return rng.choice(["{}", "{} €", "€{}", "EUR {}", " {} "]).format(text)


@pytest.mark.parametrize("style", ["es", "en"])
def test_any_amount_written_in_either_style_reads_back(style: str) -> None:
    rng = random.Random(7)
    for _ in range(3000):
        value = Decimal(rng.randint(1, 10**9)) / 100
        text = _written(value, style, rng)
        if style == "en" and text.strip().count(",") == 1 and "." not in text:
            # "1,234" alone: an en-style number typed for a comma-decimal organization
            # is the one case the locale decides; checked above.
            continue
        assert es(text) == value, text
