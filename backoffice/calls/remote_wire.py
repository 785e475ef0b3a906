"""The partner API's JSON, read and written at the edge (docs/partner-api.md).

Pydantic here and nowhere deeper: a partner's answer is validated once, and what goes
on is the call interface's own frozen dataclasses. An answer that does not validate
is the partner's failure (``bad_response``), never a ``KeyError`` inside a call.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from backoffice.calls.models import Balance, CallOutcome, CallSubject, PhoneInfo, PromiseInfo
from backoffice.store.tables import ACCOUNT_STATUSES

E164 = r"^\+[1-9][0-9]{6,14}$"
CURRENCY = r"^[A-Z]{3}$"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _known_status(value: str) -> str:
    if value not in ACCOUNT_STATUSES:
        raise ValueError(f"must be one of {', '.join(ACCOUNT_STATUSES)}")
    return value


class PhoneWire(_Wire):
    number: str = Field(pattern=E164)
    state: Literal["valid", "wrong_party", "disconnected"] = "valid"
    source: str = Field(default="partner", max_length=32)
    consecutive_failures: int = Field(default=0, ge=0)
    last_attempt_at: AwareDatetime | None = None

    def to_phone(self) -> PhoneInfo:
        return PhoneInfo(
            number=self.number,
            state=self.state,
            source=self.source,
            consecutive_failures=self.consecutive_failures,
            last_attempt_at=self.last_attempt_at,
        )


class SubjectWire(_Wire):
    account_ref: str = Field(min_length=1, max_length=128)
    contact_id: str | None = Field(default=None, max_length=32)
    contact_name: str = Field(max_length=200)
    language: str | None = Field(default=None, max_length=10)
    timezone: str | None = Field(default=None, max_length=64)
    phones: list[PhoneWire] = Field(default_factory=list)
    pending_balance: Decimal
    total_amount: Decimal
    currency: str = Field(pattern=CURRENCY)
    due_date: dt.date | None = None
    status: str
    reference: str | None = Field(default=None, max_length=128)
    opted_out: bool = False
    email: str | None = Field(default=None, max_length=320)
    whatsapp: str | None = Field(default=None, pattern=E164)

    _status = field_validator("status")(_known_status)

    def to_subject(self) -> CallSubject:
        return CallSubject(
            account_ref=self.account_ref,
            contact_id=self.contact_id,
            contact_name=self.contact_name,
            language=self.language,
            timezone=self.timezone,
            phones=tuple(p.to_phone() for p in self.phones),
            pending_balance=self.pending_balance,
            total_amount=self.total_amount,
            currency=self.currency,
            due_date=self.due_date,
            status=self.status,
            reference=self.reference,
            opted_out=self.opted_out,
            email=self.email,
            whatsapp=self.whatsapp,
        )


class MatchesWire(_Wire):
    accounts: list[SubjectWire] = Field(max_length=200)


class IdentityWire(_Wire):
    match: bool


class ItemWire(_Wire):
    kind: str = Field(max_length=16)
    amount: Decimal


class PromiseInfoWire(_Wire):
    amount: Decimal
    currency: str = Field(pattern=CURRENCY)
    due_date: dt.date


class BalanceWire(_Wire):
    account_ref: str = Field(min_length=1, max_length=128)
    pending_balance: Decimal
    total_amount: Decimal
    currency: str = Field(pattern=CURRENCY)
    due_date: dt.date | None = None
    status: str
    items: list[ItemWire] = Field(default_factory=list)
    active_promise: PromiseInfoWire | None = None

    _status = field_validator("status")(_known_status)

    def to_balance(self) -> Balance:
        totals: dict[str, Decimal] = {}
        for item in self.items:
            totals[item.kind] = totals.get(item.kind, Decimal("0")) + item.amount
        promise = self.active_promise
        return Balance(
            account_ref=self.account_ref,
            pending_balance=self.pending_balance,
            total_amount=self.total_amount,
            currency=self.currency,
            due_date=self.due_date,
            status=self.status,
            items=tuple(totals.items()),
            active_promise=None
            if promise is None
            else PromiseInfo(promise.amount, promise.currency, promise.due_date),
        )


class ActionWire(BaseModel):
    """A write's answer: done with its facts, or refused with a reason and a sentence."""

    model_config = ConfigDict(extra="allow", frozen=True)

    status: Literal["done", "refused"]
    reason: str = Field(default="", max_length=64)
    message: str = ""

    def facts(self) -> dict[str, Any]:
        """The extra fields, those a speaking agent can use (scalars only)."""
        extra = self.model_extra or {}
        return {
            k: v for k, v in extra.items() if isinstance(v, str | int | float | bool) or v is None
        }


def money(value: Decimal) -> str:
    """An amount as the API sends it: a string, never a float."""
    return format(value, "f")


def outcome_body(account_ref: str | None, outcome: CallOutcome) -> dict[str, Any]:
    """The ``/calls/{call_sid}/outcome`` body: only what this report knows."""
    values: dict[str, Any] = {
        "account_ref": account_ref,
        "source": outcome.source,
        "status": outcome.status,
        "end_reason": outcome.end_reason or None,
        "started_at": _time(outcome.started_at),
        "ended_at": _time(outcome.ended_at),
        "duration_s": outcome.duration_s,
        "conversation_id": outcome.conversation_id,
        "summary": outcome.summary,
        "contact_result": outcome.contact_result,
        "disposition": outcome.disposition,
        "sentiment": outcome.sentiment,
        "willingness": outcome.willingness,
        "cooperation": outcome.cooperation,
        "tools_used": list(outcome.tools_used) if outcome.tools_used is not None else None,
        "cost": money(outcome.cost) if outcome.cost is not None else None,
        "transcript": [{"role": r, "text": t} for r, t in outcome.transcript]
        if outcome.transcript is not None
        else None,
        "analysis": outcome.analysis,
    }
    return {k: v for k, v in values.items() if v is not None or k == "account_ref"}


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()
