"""The vocabulary of the call interface: what a call knows and what an action answers.

Plain frozen dataclasses (no ORM rows, no pydantic): the same values travel from the
built-in store, from a partner's system of record over HTTP, and into the agent's
tool results, so they carry only what each of those needs. Money is ``Decimal`` with
its ISO currency beside it; dates are ``datetime.date``; times are aware UTC.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class CallRef:
    """The call an action is about: enough for either backoffice to find the account.

    ``account_ref`` is the built-in account id, or the partner's own account id for a
    remote system of record; None while an inbound caller is not yet matched.
    """

    org_id: str
    call_sid: str
    account_ref: str | None
    contact_id: str | None = None
    interaction_id: str | None = None
    number: str | None = None
    language: str = "es"

    @property
    def actor(self) -> str:
        return f"agent:{self.call_sid}"


@dataclass(frozen=True, slots=True)
class Balance:
    """What the debtor owes, as the agent may say it once identity is verified."""

    account_ref: str
    pending_balance: Decimal
    total_amount: Decimal
    currency: str
    due_date: dt.date | None
    status: str
    #: The breakdown (capital, interest, fees, payments) as (kind, amount) pairs.
    items: tuple[tuple[str, Decimal], ...] = ()
    active_promise: PromiseInfo | None = None


@dataclass(frozen=True, slots=True)
class PromiseInfo:
    amount: Decimal
    currency: str
    due_date: dt.date


@dataclass(frozen=True, slots=True)
class CallSubject:
    """The account and contact a call is about, as the call context needs them.

    Carries no document number and no date of birth: identity is checked by
    :meth:`~backoffice.calls.interface.SystemOfRecord.verify_identity`, never by
    handing the answer to the agent.
    """

    account_ref: str
    contact_id: str | None
    contact_name: str
    language: str | None
    timezone: str | None
    phones: tuple[PhoneInfo, ...]
    pending_balance: Decimal
    total_amount: Decimal
    currency: str
    due_date: dt.date | None
    status: str
    reference: str | None = None
    opted_out: bool = False
    email: str | None = None
    whatsapp: str | None = None

    @property
    def first_name(self) -> str:
        parts = self.contact_name.split()
        return parts[0] if parts else ""


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    """A number of the contact with its dialling history (for phone rotation)."""

    number: str
    state: str = "valid"  # valid, wrong_party, disconnected
    source: str = "import"
    consecutive_failures: int = 0
    last_attempt_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class IdentityAnswer:
    """What the caller said when asked to prove who they are."""

    document_last4: str
    date_of_birth: dt.date | None = None


class ActionStatus(enum.StrEnum):
    DONE = "done"
    REFUSED = "refused"
    UNAVAILABLE = "unavailable"  # the system of record could not be reached in time


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The answer to one action, in words the agent can say and facts it can use.

    ``reason`` is a stable code (``date_in_past``, ``above_balance``...) for tests and
    analytics; ``message`` is the English sentence the agent turns into speech.
    """

    status: ActionStatus
    message: str
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is ActionStatus.DONE

    @classmethod
    def done(cls, message: str, **data: Any) -> ActionResult:
        return cls(ActionStatus.DONE, message, "", data)

    @classmethod
    def refused(cls, reason: str, message: str, **data: Any) -> ActionResult:
        return cls(ActionStatus.REFUSED, message, reason, data)

    @classmethod
    def unavailable(cls, message: str) -> ActionResult:
        return cls(ActionStatus.UNAVAILABLE, message, "unavailable")


@dataclass(frozen=True, slots=True)
class PromiseRequest:
    amount: Decimal
    due_date: dt.date


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A callback at ``at`` (aware), already moved into the allowed hours."""

    at: dt.datetime
    note: str = ""


class OptOutScope(enum.StrEnum):
    CONTACT = "contact"  # the verified debtor: every channel
    NUMBER = "number"  # an unverified person: the dialled number only


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """How a call ended, reported when it ends (gateway) or later (post-call analysis).

    Every field but ``status`` is optional: a call that was never answered has no
    transcript, and an analysis may arrive without a duration.
    """

    status: str  # completed, busy, no-answer, failed, canceled, voicemail, ...
    end_reason: str = ""
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    duration_s: int | None = None
    conversation_id: str | None = None
    transcript: tuple[tuple[str, str], ...] | None = None
    summary: str | None = None
    contact_result: str | None = None
    disposition: str | None = None
    sentiment: str | None = None
    willingness: int | None = None
    cooperation: str | None = None
    tools_used: tuple[str, ...] | None = None
    cost: Decimal | None = None
    analysis: dict[str, Any] | None = None
    source: str = "gateway"  # gateway, webhook, fetch
