"""An organization's settings, validated the way an operator would expect."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from backoffice.calls.policy import check_policy

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    country: str
    locale: str
    currency: str
    timezone: str
    contact_hours_start: dt.time
    contact_hours_end: dt.time
    contact_days: frozenset[int]  # 0 = Monday, as datetime.weekday()
    credential_mode: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class OrganizationInput(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    country: str = Field(description="ISO 3166 alpha-2, e.g. ES, MX, US.")
    locale: str = Field(description="e.g. es-MX, en-US, pt-BR.")
    currency: str | None = Field(default=None, description="ISO 4217; default from locale.")
    timezone: str = Field(description="IANA zone, e.g. America/Mexico_City.")
    contact_hours_start: str = "09:00"
    contact_hours_end: str = "20:00"
    contact_days: list[str] = Field(default_factory=lambda: list(DAYS[:5]))
    credential_mode: str = Field(default="managed", pattern="^(managed|byop)$")
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("not an ISO 3166 alpha-2 country code")
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        try:
            parsed = Locale.parse(value.replace("-", "_"))
        except (ValueError, UnknownLocaleError):
            raise ValueError("not a known locale such as es-MX") from None
        return str(parsed).replace("_", "-")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.upper()
        if value not in list_currencies():
            raise ValueError("not an ISO 4217 currency code")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone such as Europe/Madrid") from None
        return value

    @field_validator("contact_hours_start", "contact_hours_end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("must be HH:MM (24 h)")
        return value

    @field_validator("contact_days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [d.lower()[:3] for d in value]
        unknown = [d for d in days if d not in DAYS]
        if unknown or not days:
            raise ValueError(f"days must be among {', '.join(DAYS)}")
        return sorted(set(days), key=DAYS.index)

    @field_validator("settings")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "calls" not in value:
            return value
        try:
            return {**value, "calls": check_policy(value["calls"])}
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in ("calls", *first["loc"]))
            raise ValueError(f"{where}: {first['msg']}") from None

    @model_validator(mode="after")
    def _window(self) -> OrganizationInput:
        if self.contact_hours_start >= self.contact_hours_end:
            raise ValueError("contact_hours_start must be before contact_hours_end")
        if self.currency is None:
            self.currency = default_currency(self.country)
        return self


def default_currency(country: str) -> str:
    from babel.numbers import get_territory_currencies

    currencies = get_territory_currencies(country)
    return currencies[0] if currencies else "USD"


def parse_days(text: str) -> frozenset[int]:
    return frozenset(DAYS.index(d) for d in text.split(",") if d in DAYS)


def format_days(days: list[str]) -> str:
    return ",".join(days)


def parse_hhmm(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))
