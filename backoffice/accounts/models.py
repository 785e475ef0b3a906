"""What the accounts repositories return: frozen, typed records, also the API's shapes.

Money is ``Decimal`` beside its ISO currency (JSON renders it as a string, so no
float ever rounds it); times are timezone-aware UTC. A contact's document number is
only ever present as :attr:`Contact.document`, already masked to its last four
digits: no record here can carry more of it, so no endpoint can leak it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class AccountSummary(Record):
    """One row of the account list."""

    id: str
    external_id: str | None
    reference: str | None
    contact_id: str
    contact_name: str
    status: str
    total_amount: Decimal
    pending_balance: Decimal
    currency: str
    due_date: dt.date | None
    priority_score: int | None
    priority_computed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class AccountPage(Record):
    items: list[AccountSummary]
    total: int = Field(description="Accounts matching the filters, on all pages.")
    page: int
    page_size: int
    pages: int


class Phone(Record):
    """An alternate number of a contact and what is known about it."""

    id: str
    number: str
    state: str = Field(description="valid, wrong_party or disconnected")
    source: str = Field(description="Where the number came from (import, agent, operator...).")
    created_at: dt.datetime


class Contact(Record):
    id: str
    name: str
    email: str | None
    phone: str | None
    whatsapp: str | None
    document: str | None = Field(description="Last four digits only, e.g. '•••• 1234'.")
    language: str | None
    timezone: str | None
    opted_out: bool
    opted_out_reason: str | None
    opted_out_at: dt.datetime | None
    opted_out_by: str | None
    phones: list[Phone]
    created_at: dt.datetime
    updated_at: dt.datetime


class AccountRef(Record):
    id: str
    external_id: str | None
    reference: str | None
    status: str
    pending_balance: Decimal
    currency: str


class ContactDetail(Contact):
    accounts: list[AccountRef]


class DebtItem(Record):
    id: str
    account_id: str
    kind: str = Field(description="capital, interest, fees or payment")
    amount: Decimal = Field(description="Always positive; the kind says which way it counts.")
    currency: str
    date: dt.date | None
    state: str = Field(description="pending, applied or cancelled")
    description: str | None
    created_at: dt.datetime


class DebtItemChange(Record):
    """A debt item after a change, and the account's pending balance around it."""

    item: DebtItem
    pending_balance_before: Decimal
    pending_balance_after: Decimal
    currency: str


class StatusEntry(Record):
    """One status change: from what, to what, who or what did it, when and why."""

    id: str
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    at: dt.datetime


class StatusChange(Record):
    account_id: str
    from_status: str
    to_status: str
    changed: bool = Field(description="False when the account already had that status.")
    actor: str
    reason: str | None
    at: dt.datetime


class Interaction(Record):
    id: str
    channel: str
    direction: str
    status: str
    result: str | None
    summary: str | None
    disposition: str | None
    sentiment: str | None
    willingness: int | None
    cooperation: str | None
    tools_used: Any
    cost: Decimal | None
    duration_s: int | None
    within_allowed_hours: bool | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    created_at: dt.datetime
    provider_id: str | None = Field(default=None, description="Twilio CallSid, message id...")
    conversation_id: str | None = None
    end_reason: str | None = None
    contact_result: str | None = None
    outcome_source: str | None = Field(
        default=None, description="Where the analysis came from: webhook or fetch."
    )


class TimelineEvent(Record):
    """Something that happened within an interaction (a promise made, a number given)."""

    id: str
    interaction_id: str | None
    kind: str
    summary: str
    detail: Any
    actor: str
    at: dt.datetime


class InteractionDetail(Interaction):
    transcript: list[dict[str, str]] | None = Field(
        description="The conversation, as {role: caller|agent, text}."
    )
    analysis: Any
    events: list[TimelineEvent]


class Disposition(Record):
    id: str
    interaction_id: str | None
    disposition: str
    contact_result: str | None
    source: str
    at: dt.datetime


class Hardship(Record):
    id: str
    reason: str
    status: str
    source: str
    interaction_id: str | None
    created_at: dt.datetime


class Promise(Record):
    id: str
    amount: Decimal
    currency: str
    due_date: dt.date
    status: str
    source: str
    interaction_id: str | None
    created_at: dt.datetime


class Dispute(Record):
    id: str
    reason: str
    status: str
    source: str
    created_at: dt.datetime


class CallbackRequest(Record):
    id: str
    scheduled_for: dt.datetime
    status: str
    source: str
    created_at: dt.datetime


class Factor(Record):
    """One factor of the priority score: its weight, its value 0-1 and the points given."""

    name: str
    weight: int
    value: float
    points: float
    detail: str


class Priority(Record):
    score: int | None = Field(description="0-100, higher = call first; null if never computed.")
    factors: list[Factor]
    blocked_by: str | None = Field(description="Why the score is 0 whatever the factors.")
    computed_at: dt.datetime | None


class AccountDetail(AccountSummary):
    notes: str | None
    priority: Priority
    contact: Contact
    interactions: list[Interaction] = Field(description="Newest first (the latest 100).")
    interaction_count: int
    promises: list[Promise]
    disputes: list[Dispute]
    callback_requests: list[CallbackRequest]
    hardships: list[Hardship]
    debt_items: list[DebtItem]
    status_history: list[StatusEntry] = Field(description="Newest first.")
    timeline: list[TimelineEvent] = Field(
        description="What happened in interactions, newest first."
    )
    dispositions: list[Disposition] = Field(description="Call dispositions, newest first.")
