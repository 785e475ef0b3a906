"""Phone numbers to E.164, the one form in which the store keeps and matches them.

People write a number the way their country does (``(212) 555-0100``, ``600 12 34 56``,
``0034 600...``); only its E.164 form can be compared with another. A number without
a country prefix is read in the organization's country (``default_region``), as the
conventions require. ``phonenumbers.is_possible_number`` (length per region) is the
test, not ``is_valid_number``: a DNC list must still match a number in a range the
metadata does not know yet, and refusing it would let that person be called.
"""

from __future__ import annotations

import re

import phonenumbers

# E.164 allows at most 15 digits; anything much longer is a pasted paragraph.
_MAX_INPUT = 64
# A number that went through a spreadsheet as a float ("2125550100.0"): the ".0" is
# not part of it, and reading it as a digit would make another number.
_SPREADSHEET_FLOAT = re.compile(r"^(\+?\d+)\.0+$")


class InvalidPhone(ValueError):
    """A number that cannot be read; ``reason`` is a short phrase for a report."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"{value!r}: {reason}")
        self.value = value
        self.reason = reason


def to_e164(value: str, default_region: str) -> str:
    """The E.164 form (``+12125550100``) of ``value`` read in ``default_region``.

    Args:
        value: a phone number as a person typed it; ``00`` and ``+`` prefixes and any
            punctuation are accepted.
        default_region: ISO 3166 alpha-2 country used when ``value`` has no prefix
            (the organization's country).

    Raises:
        InvalidPhone: empty, not a phone number, or impossible for its country.
    """
    text = value.strip()
    if not text:
        raise InvalidPhone(value, "empty")
    if len(text) > _MAX_INPUT:
        raise InvalidPhone(value[:_MAX_INPUT], "too long to be a phone number")
    text = _SPREADSHEET_FLOAT.sub(r"\1", text)
    region = default_region.upper()
    parsed = _parse(text, region)
    if (parsed is None or not phonenumbers.is_possible_number(parsed)) and text.startswith("00"):
        # "00" is the international prefix of most of the world, but not of the
        # organization's country (the US dials 011): read it as "+" all the same.
        parsed = _parse("+" + text[2:], region)
    if parsed is None:
        raise InvalidPhone(value, "not a phone number")
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhone(value, f"not a possible number for {region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
