"""The one narrow interface between a live call and the account it is about.

The gateway and the agent's tools never touch tables. They ask a
:class:`SystemOfRecord` for the facts of a call and tell it what happened, and two
implementations stand behind it, chosen per organization
(:func:`backoffice.calls.records.records_for`):

- :class:`~backoffice.calls.builtin.BuiltinRecords`: parley's own store;
- :class:`~backoffice.calls.remote.RemoteRecords`: the organization's own system of
  record over signed HTTP, with timeouts after which the agent gets something it can
  say instead of silence.

What stays in parley whichever implementation is used: the call sessions (identity
state, attempts), the tool-call ledger (exactly-once), the compliance check and the
opt-out/DNC lists. Those are the rules parley answers for, whoever keeps the ledger
of the debt.

Contract for implementers:

- Every write takes the ``key`` of the tool call that asked for it and must be
  idempotent on it (the ledger in front of it already deduplicates; the key is passed
  on so a remote system can deduplicate its own retries).
- Refusals are results, not exceptions: an amount above the balance is
  ``ActionResult.refused("above_balance", "...")``. Exceptions mean the system itself
  failed; the tool layer turns them into a spoken fallback.
- Nothing returned here holds a document number, a date of birth or a secret.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from backoffice.calls.models import (
    ActionResult,
    Balance,
    CallbackRequest,
    CallOutcome,
    CallRef,
    CallSubject,
    IdentityAnswer,
    OptOutScope,
    PromiseRequest,
)


class RecordsUnavailable(Exception):
    """The system of record did not answer a read in time (or at all).

    Writes say so in their :class:`~backoffice.calls.models.ActionResult`
    (``unavailable``); reads have nothing to return, so they raise this, and the tool
    layer turns it into a sentence the agent can say.
    """


class SystemOfRecord(Protocol):
    """Where an organization's accounts live, seen from a call."""

    #: ``builtin`` or ``remote``: shown to operators and in logs.
    kind: str

    async def call_subject(self, org_id: str, account_ref: str) -> CallSubject:
        """The account and contact for a call's context and planning.

        Raises:
            NotFound: no such account in this organization.
        """
        ...

    async def match_caller(self, org_id: str, number: str) -> list[CallSubject]:
        """Accounts whose contact has ``number`` (main or alternate), most urgent first."""
        ...

    async def verify_identity(self, call: CallRef, answer: IdentityAnswer) -> bool:
        """Whether the answer matches the account's debtor. Attempts are counted by
        the caller (the call session), not here."""
        ...

    async def balance(self, call: CallRef) -> Balance: ...

    async def register_promise(
        self, call: CallRef, request: PromiseRequest, key: str
    ) -> ActionResult: ...

    async def schedule_callback(
        self, call: CallRef, request: CallbackRequest, key: str
    ) -> ActionResult: ...

    async def register_dispute(self, call: CallRef, reason: str, key: str) -> ActionResult: ...

    async def register_hardship(self, call: CallRef, reason: str, key: str) -> ActionResult: ...

    async def opt_out(
        self, call: CallRef, reason: str, scope: OptOutScope, key: str
    ) -> ActionResult: ...

    async def escalate(self, call: CallRef, reason: str, key: str) -> ActionResult: ...

    async def add_alternate_number(
        self, call: CallRef, number: str, relation: str, key: str
    ) -> ActionResult: ...

    async def mark_wrong_party(self, call: CallRef, key: str) -> ActionResult:
        """The dialled number does not reach the debtor: rotate it to the end."""
        ...

    async def set_channel_preference(
        self, call: CallRef, channel: str, key: str
    ) -> ActionResult: ...

    async def call_started(
        self, call: CallRef, *, direction: str, within_allowed_hours: bool | None
    ) -> str | None:
        """A call about the account has started (placed, or an inbound call matched).

        Returns the id of the interaction parley keeps for it, or None when the
        account's timeline lives in the other system.
        """
        ...

    async def record_outcome(self, call: CallRef, outcome: CallOutcome) -> None:
        """Store how the call ended (may be called again with more facts: the gateway
        reports the end, the post-call analysis adds transcript and disposition)."""
        ...


class Clock(Protocol):
    def __call__(self) -> dt.datetime: ...
