"""The language of an interaction: one rule, used by every channel.

The effective language is the first usable answer of, in order: a manual override
(an operator's choice for this interaction), the contact's language, the
organization's locale, the default of the organization's country, and finally
``es``. "Usable" means it names a supported language once normalised; an unusable
value (``fr``, ``xx``, a typo) is passed over, not an error, so a bad cell in an
imported file never leaves a debtor without a language.

Values are BCP 47-ish tags written however people write them (``es-MX``, ``es_MX``,
``ES-mx``, ``pt_br``, ``Español``). They come back as ``es-MX``: lower-case language,
upper-case region. A region is kept only when CLDR (through Babel) knows that
language in that region, so ``es-MX`` and ``es-419`` stay, while ``en-XX`` becomes
``en``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError

from config.defaults import DEFAULT_LANGUAGE, GREETINGS

SUPPORTED_LANGUAGES = frozenset(GREETINGS)
"""A language is supported when it has its shipped texts (greeting, templates)."""

_COUNTRIES = {
    "es": "ES MX AR CO CL PE VE EC GT CU BO DO HN PY SV NI CR PA UY PR GQ",
    "en": "US GB IE CA AU NZ ZA NG KE GH JM TT BZ BS BB SG PH IN MT",
    "pt": "BR PT AO MZ CV GW ST TL",
}
COUNTRY_LANGUAGES: dict[str, str] = {
    country: language for language, listed in _COUNTRIES.items() for country in listed.split()
}
"""The language a country's debtors are addressed in when nothing else says. Countries
with more than one common language get the supported one most used in collections."""

# Names people type into spreadsheets instead of codes.
_NAMES = {
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "castellano": "es",
    "english": "en",
    "inglés": "en",
    "ingles": "en",
    "portuguese": "pt",
    "português": "pt",
    "portugues": "pt",
}
_TAG = re.compile(r"^([a-z]{2,3})(?:[-_]([a-z]{4}))?(?:[-_]([a-z]{2}|\d{3}))?$", re.IGNORECASE)

SOURCES = ("override", "contact", "organization", "country", "default")


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    """The effective language and why.

    Attributes:
        tag: the normalised tag, with its region when one was given (``es-MX``).
        base: the bare language (``es``), for templates and voices.
        source: which step of the cascade gave it (one of :data:`SOURCES`).
    """

    tag: str
    base: str
    source: str


def normalize_language(value: str | None) -> str | None:
    """``value`` as a supported tag (``es_mx`` -> ``es-MX``), or None if it is not one."""
    if not value:
        return None
    text = value.strip()
    named = _NAMES.get(text.lower())
    if named is not None:
        return named
    match = _TAG.match(text)
    if match is None:
        return None
    language, _script, region = match.groups()
    language = language.lower()
    if language not in SUPPORTED_LANGUAGES:
        return None
    if region is None:
        return language
    region = region.upper()
    try:
        known = str(Locale.parse(f"{language}_{region}")) == f"{language}_{region}"
    except (ValueError, UnknownLocaleError):
        known = False
    return f"{language}-{region}" if known else language


def effective_language(
    *,
    override: str | None = None,
    contact_language: str | None = None,
    org_locale: str | None = None,
    org_country: str | None = None,
) -> LanguageChoice:
    """The language to speak or write to a contact in.

    Args:
        override: an operator's explicit choice for this interaction.
        contact_language: the contact's stored language.
        org_locale: the organization's locale (``es-MX``).
        org_country: the organization's ISO 3166 alpha-2 country.

    Every argument may be None, empty or unusable; the cascade then moves on, and
    ``es`` is the answer of last resort. Never raises.
    """
    for source, value in (
        ("override", override),
        ("contact", contact_language),
        ("organization", org_locale),
    ):
        tag = normalize_language(value)
        if tag is not None:
            return LanguageChoice(tag, tag.split("-")[0], source)
    country = COUNTRY_LANGUAGES.get((org_country or "").strip().upper())
    if country is not None:
        return LanguageChoice(country, country, "country")
    return LanguageChoice(DEFAULT_LANGUAGE, DEFAULT_LANGUAGE, "default")
