"""Phones, emails, languages, time zones, currencies and documents, normalised."""

from __future__ import annotations

import phonenumbers
import pytest

from backoffice.portfolio.documents import (
    canonical_document,
    document_digest,
    fingerprint_document,
    matches_document,
)
from backoffice.portfolio.fields import ImportField as F
from backoffice.portfolio.normalize import (
    NormalizationError,
    cell_text,
    normalize_currency,
    normalize_email,
    normalize_language,
    normalize_phone,
    normalize_timezone,
    split_phones,
)

KEY = b"k" * 32


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("612 34 56 78", "ES", "+34612345678"),
        ("+34 612-345-678", "ES", "+34612345678"),
        ("0034612345678", "ES", "+34612345678"),
        (612345678.0, "ES", "+34612345678"),  # a spreadsheet number
        (34612345678.0, "ES", "+34612345678"),  # the "+" eaten by a spreadsheet
        ("Tel: 612345678", "ES", "+34612345678"),
        ("(55) 1234-5678", "MX", "+525512345678"),
        ("(11) 98765-4321", "BR", "+5511987654321"),
        ("(212) 555-0123", "US", "+12125550123"),
        ("+44 20 7946 0958", "US", "+442079460958"),  # international wins over country
    ],
)
def test_phones_become_e164(text: object, country: str, expected: str) -> None:
    assert normalize_phone(text, country) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["12345", "abc", "+34 000", "999", "612 34 56 7"])
def test_invalid_phones_are_refused(text: str) -> None:
    with pytest.raises(NormalizationError):
        normalize_phone(text, "ES")


def test_every_region_example_number_round_trips_in_every_format() -> None:
    """Property: a valid number written nationally or internationally reads back."""
    formats = (
        phonenumbers.PhoneNumberFormat.NATIONAL,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        phonenumbers.PhoneNumberFormat.E164,
    )
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None or not phonenumbers.is_valid_number(example):
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            for fmt in formats:
                written = phonenumbers.format_number(example, fmt)
                assert normalize_phone(written, region) == e164, (region, written)
            checked += 1
    assert checked > 300


def test_a_cell_with_several_numbers_is_split() -> None:
    assert split_phones("612345678 / 699111222") == ["612345678", "699111222"]
    assert split_phones("612345678; 699111222, 633444555") == [
        "612345678",
        "699111222",
        "633444555",
    ]
    assert split_phones("612345678 o 699111222") == ["612345678", "699111222"]
    assert split_phones("+34 612 34 56 78") == ["+34 612 34 56 78"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ana@Example.COM", "Ana@example.com"),
        (" ana.lopez+cobros@example.es ", "ana.lopez+cobros@example.es"),
        ("mailto:ana@example.com", "ana@example.com"),
        ("jose@correos.españa.es", "jose@correos.xn--espaa-rta.es"),
    ],
)
def test_emails(text: str, expected: str) -> None:
    assert normalize_email(text) == expected


@pytest.mark.parametrize(
    "text",
    ["inigo@@example.com", "ana@example", "ana example.com", "ana@.com", ".ana@example.com",
     "ana..b@example.com", "ana@exa mple.com", "ana@example.123", "a@b@c.com"],
)  # fmt: skip
def test_bad_emails_are_refused(text: str) -> None:
    with pytest.raises(NormalizationError):
        normalize_email(text)


def test_two_addresses_in_one_cell_say_so() -> None:
    with pytest.raises(NormalizationError, match="one email address per cell"):
        normalize_email("a@example.com; b@example.com")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("es", "es"), ("ES", "es"), ("es-MX", "es-MX"), ("pt_br", "pt-BR"), ("en-us", "en-US"),
     ("Español", "es"), ("portugués", "pt"), ("English", "en"), ("Inglés", "en")],
)  # fmt: skip
def test_languages(text: str, expected: str) -> None:
    assert normalize_language(text) == expected


@pytest.mark.parametrize("text", ["fr", "de-DE", "es-XX", "klingon", "es-MX-foo"])
def test_unsupported_languages_are_refused(text: str) -> None:
    with pytest.raises(NormalizationError):
        normalize_language(text)


def test_time_zones() -> None:
    assert normalize_timezone("America/Mexico_City") == "America/Mexico_City"
    assert normalize_timezone("america/mexico city") == "America/Mexico_City"
    assert normalize_timezone("UTC") == "UTC"
    with pytest.raises(NormalizationError, match="offset"):
        normalize_timezone("GMT-5")
    with pytest.raises(NormalizationError, match="offset"):
        normalize_timezone("-05:00")
    with pytest.raises(NormalizationError, match="IANA"):
        normalize_timezone("Madrid")


def test_currencies() -> None:
    assert normalize_currency("eur", "USD") == "EUR"
    assert normalize_currency("€", "USD") == "EUR"
    assert normalize_currency("R$", "USD") == "BRL"
    assert normalize_currency("$", "MXN") == "MXN"  # a bare "$" in Mexico means pesos
    with pytest.raises(NormalizationError, match="several currencies"):
        normalize_currency("$", "EUR")
    with pytest.raises(NormalizationError, match="ISO 4217"):
        normalize_currency("XYZ", "EUR")


def test_cell_text_undoes_what_spreadsheets_do_to_codes() -> None:
    assert cell_text(612345678.0) == "612345678"
    assert cell_text(12.5) == "12.5"
    assert cell_text("  x ") == "x"
    assert cell_text("   ") is None
    assert cell_text(None) is None


def test_documents_keep_last_four_and_a_keyed_digest() -> None:
    print_ = fingerprint_document("12.345.678-z", KEY)
    assert print_.last4 == "678Z"
    assert print_.digest == document_digest("12345678Z", KEY)  # same document, any spelling
    assert print_.digest != document_digest("12345678Z", b"another key, another digest")
    assert "12345678" not in repr(print_)
    assert matches_document("12345678z", print_.digest, KEY)
    assert not matches_document("12345679Z", print_.digest, KEY)
    assert canonical_document("123.456.789-09") == "12345678909"


def test_short_documents_are_refused_without_quoting_them() -> None:
    with pytest.raises(NormalizationError) as caught:
        fingerprint_document("12-34", KEY)
    assert "1234" not in caught.value.reason


def test_a_phone_cell_of_separators_only_is_refused_not_crashed() -> None:
    from backoffice.portfolio.records import ImportContext, build_record

    ctx = ImportContext("ES", "es-ES", "EUR", True, ",", KEY)
    outcome = build_record(2, {F.CONTACT_NAME: "Ana", F.TOTAL_AMOUNT: "10", F.PHONE: " / "}, ctx)
    assert [e.field for e in outcome.errors] == ["phone"]
