"""Phone numbers to E.164, read in the organization's country."""

from __future__ import annotations

import pytest

from backoffice.compliance.phones import InvalidPhone, to_e164


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("(212) 555-0100", "US", "+12125550100"),
        ("212.555.0100", "US", "+12125550100"),
        ("+1 212 555 0100", "ES", "+12125550100"),  # a prefix beats the region
        ("600 12 34 56", "ES", "+34600123456"),
        ("0034 600 123 456", "US", "+34600123456"),
        ("+34600123456", "ES", "+34600123456"),
        ("55 1234 5678", "MX", "+525512345678"),
        ("(11) 91234-5678", "br", "+5511912345678"),
        ("2125550100.0", "US", "+12125550100"),  # a spreadsheet made it a float
        ("002112125550100", "BR", "+12125550100"),  # Brazil's 00 + carrier prefix
        ("011 34 600 123 456", "US", "+34600123456"),
    ],
)
def test_numbers_become_e164(value: str, region: str, expected: str) -> None:
    assert to_e164(value, region) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("phone", "not a phone number"),
        ("12", "possible"),
        ("9" * 80, "too long"),
    ],
)
def test_unreadable_numbers_say_why(value: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        to_e164(value, "US")
    assert reason in caught.value.reason
