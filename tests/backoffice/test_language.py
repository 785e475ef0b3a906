"""The effective language cascade: override -> contact -> organization locale ->
country default -> es, with tags normalised and unsupported values passed over."""

from __future__ import annotations

import pytest

from backoffice.language import (
    COUNTRY_LANGUAGES,
    SUPPORTED_LANGUAGES,
    LanguageChoice,
    effective_language,
    normalize_language,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("es-MX", "es-MX"),
        ("es_MX", "es-MX"),
        ("ES-mx", "es-MX"),
        (" pt_br ", "pt-BR"),
        ("pt-PT", "pt-PT"),
        ("en-US", "en-US"),
        ("en-gb", "en-GB"),
        ("es-419", "es-419"),
        ("es-Latn-MX", "es-MX"),
        ("ES", "es"),
        ("en", "en"),
        ("Español", "es"),
        ("portuguese", "pt"),
        ("en-XX", "en"),  # a region CLDR does not know is dropped, the language kept
        ("es-ZZ", "es"),
    ],
)
def test_tags_are_normalised(given: str, expected: str) -> None:
    assert normalize_language(given) == expected


@pytest.mark.parametrize(
    "given", [None, "", "  ", "fr", "fr-FR", "de_DE", "xx", "e", "es--MX", "12"]
)
def test_unsupported_or_unreadable_values_are_none(given: str | None) -> None:
    assert normalize_language(given) is None


def test_es_en_pt_are_supported() -> None:
    assert {"es", "en", "pt"} <= SUPPORTED_LANGUAGES


def test_the_override_wins() -> None:
    choice = effective_language(
        override="pt-BR", contact_language="en", org_locale="es-MX", org_country="MX"
    )
    assert choice == LanguageChoice("pt-BR", "pt", "override")


def test_then_the_contacts_language() -> None:
    choice = effective_language(contact_language="en_us", org_locale="es-MX", org_country="MX")
    assert choice == LanguageChoice("en-US", "en", "contact")


def test_then_the_organizations_locale() -> None:
    choice = effective_language(contact_language=None, org_locale="es-MX", org_country="US")
    assert choice == LanguageChoice("es-MX", "es", "organization")


@pytest.mark.parametrize(
    ("country", "language"),
    [
        ("ES", "es"),
        ("MX", "es"),
        ("AR", "es"),
        ("CO", "es"),
        ("CL", "es"),
        ("PE", "es"),
        ("US", "en"),
        ("GB", "en"),
        ("BR", "pt"),
        ("PT", "pt"),
        ("mx", "es"),
    ],
)
def test_then_the_countrys_default(country: str, language: str) -> None:
    choice = effective_language(org_locale="fr-FR", org_country=country)
    assert choice == LanguageChoice(language, language, "country")


def test_and_finally_spanish() -> None:
    assert effective_language() == LanguageChoice("es", "es", "default")
    assert effective_language(org_country="FR") == LanguageChoice("es", "es", "default")


def test_unusable_steps_are_passed_over_not_fatal() -> None:
    choice = effective_language(
        override="klingon", contact_language="fr", org_locale="de-DE", org_country="BR"
    )
    assert choice == LanguageChoice("pt", "pt", "country")
    assert effective_language(override="", contact_language="pt").source == "contact"


def test_every_country_default_is_a_supported_language() -> None:
    assert set(COUNTRY_LANGUAGES.values()) <= SUPPORTED_LANGUAGES
