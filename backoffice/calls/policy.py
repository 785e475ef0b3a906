"""An organization's rules for its calls, kept in ``organizations.settings["calls"]``.

Validated when an admin changes them (``PATCH /api/org``), so a call never meets a
malformed rule mid-conversation: a bad value is refused with the field named
(``settings.calls.promise_max_days``), and an absent one takes the default below.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

E164 = r"^\+[1-9][0-9]{6,14}$"
LANGUAGE_TAG = r"^[a-z]{2}(-[A-Z]{2})?$"


class RemoteRecordsConfig(BaseModel):
    """Where the organization's own system of record answers, and how patiently."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["remote"] = "remote"
    url: HttpUrl = Field(description="Base URL of the partner API, e.g. https://crm.example/parley")
    timeout_s: float = Field(default=2.5, gt=0, le=10, description="Per request, in seconds.")
    retries: int = Field(default=1, ge=0, le=3, description="Retries of a failed request.")


class BuiltinRecordsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["builtin"] = "builtin"


class CallPolicy(BaseModel):
    """Per-organization call rules; every field has a default that suits most teams."""

    model_config = ConfigDict(extra="forbid")

    require_date_of_birth: bool = Field(
        default=False, description="Identity needs the date of birth besides the document."
    )
    max_identity_attempts: int = Field(
        default=3, ge=1, le=5, description="Wrong answers after which verification ends."
    )
    promise_max_days: int = Field(
        default=30, ge=1, le=365, description="Latest promise date, in days from today."
    )
    promise_min_amount: Decimal = Field(
        default=Decimal("0"), ge=0, description="Smallest promise, in the account's currency."
    )
    promise_min_percent: Decimal = Field(
        default=Decimal("0"),
        ge=0,
        le=100,
        description="Smallest promise as a percentage of the pending balance.",
    )
    opening_mode: Literal["callee_first", "agent_first"] = "callee_first"
    default_voice_id: str | None = Field(default=None, max_length=64)
    voices: dict[str, str] = Field(
        default_factory=dict, description="Voice id per language tag (es, es-MX, en...)."
    )
    dropped_call_minutes: int = Field(
        default=30,
        ge=1,
        le=1440,
        description="A call that ended without outcome this recently is a dropped call.",
    )
    human_transfer_number: str | None = Field(
        default=None, pattern=E164, description="Where transfer_to_human calls (E.164)."
    )
    system_of_record: BuiltinRecordsConfig | RemoteRecordsConfig = Field(
        default_factory=BuiltinRecordsConfig, discriminator="kind"
    )

    def voice_for(self, language: str) -> str | None:
        """Organization voice for the exact tag, then its base language, then default."""
        base = language.split("-")[0]
        return self.voices.get(language) or self.voices.get(base) or self.default_voice_id


def policy_of(settings: dict[str, Any]) -> CallPolicy:
    """The call policy in an organization's settings (already validated on write).

    A stored value that no longer validates (a rule tightened since) falls back to the
    defaults rather than breaking every call of the organization.
    """
    try:
        return CallPolicy.model_validate(settings.get("calls") or {})
    except ValidationError:
        return CallPolicy()


def check_policy(value: object) -> dict[str, Any]:
    """Validate ``settings["calls"]`` on write; returns it normalised.

    Defaults are left out (so a default changed in a later release applies), except
    the system of record's ``kind``: it is the discriminator that tells a remote
    configuration from the built-in one, and without it the stored value would read
    back as invalid.

    Raises:
        ValidationError: with locations relative to ``calls``.
    """
    policy = CallPolicy.model_validate(value)
    out = policy.model_dump(mode="json", exclude_defaults=True)
    if isinstance(policy.system_of_record, RemoteRecordsConfig):
        out["system_of_record"] = policy.system_of_record.model_dump(mode="json")
    return out
