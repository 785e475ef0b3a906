"""The registry of calls this gateway knows about: from the TwiML request to the end.

A :class:`CallRecord` is created when an outbound call is placed or an inbound call's
TwiML is requested, and holds what every later request needs to find and check the
call: its organization and account, the one-time stream token (stored hashed), the
status history and, at the end, the outcome.

The registry is an interface with two backends: this in-process one (the default),
and a Redis one (``gateway/calls_redis.py``) shared by many gateway processes. Its
methods are async for the shared one's sake. A record is a plain object that the
route handling a request holds; with a shared registry, other processes hold their
own copies, so a change that others must see goes through :meth:`CallRegistry.update`
(read-modify-write of the freshest copy) or :meth:`CallRegistry.save` (these fields,
as this copy has them). On the in-process registry both are cheap: the record *is*
the stored object.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from gateway.call_context import OpeningMode
from gateway.call_status import StatusUpdate, should_apply

T = TypeVar("T")


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True)
class CallRecord:
    call_ref: str
    org_id: str
    account_id: str
    direction: str
    account_reference: str = ""  # the account's reference as people know it
    debtor_name: str = ""
    opening_mode: OpeningMode = OpeningMode.CALLEE_FIRST
    language: str = "es"
    to: str = ""
    from_: str = ""
    call_sid: str = ""
    status: str = "queued"
    status_seq: int = -1
    history: list[StatusUpdate] = field(default_factory=list)
    answered_by: str = ""
    created_at: float = field(default_factory=time.time)
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: str = ""
    outcome: str = ""
    conversation_id: str = ""
    recording_path: str = ""
    transcript: list[tuple[str, str]] = field(default_factory=list)
    #: Tools the agent called over this process's bridge, in order (webhook tools are
    #: in the tool-call ledger).
    tools_used: list[str] = field(default_factory=list)
    variables: dict[str, str | int | float | bool] = field(default_factory=dict)
    voice_id: str | None = None
    #: What a person hears before a warm transfer connects them (the whisper).
    transfer_brief: str = ""
    #: The gateway process running the call's media stream ("" until it streams).
    owner: str = ""
    #: The gateway process that opened the call's prewarmed agent session, if any.
    prewarm_on: str = ""
    _token_digest: str = ""
    _token_expires: float = 0.0

    def issue_stream_token(self, ttl_s: float, now: float) -> str:
        """A fresh one-time token for the ``<Stream>``; replaces any earlier one."""
        token = secrets.token_urlsafe(24)
        self._token_digest = _token_digest(token)
        self._token_expires = now + ttl_s
        return token

    def redeem_stream_token(self, token: str, now: float) -> bool:
        """True once for the right, unexpired token; the token is spent either way."""
        expected, expires = self._token_digest, self._token_expires
        self._token_digest = ""
        if not expected or now > expires:
            return False
        return hmac.compare_digest(expected, _token_digest(token))

    def apply_status(self, status: str, sequence: int, at: float) -> bool:
        """Record a status callback; returns whether it became the current status.

        Raises:
            UnknownStatus: for a status Twilio does not document.
        """
        applied = should_apply(self.status, self.status_seq, status, sequence)
        self.history.append(StatusUpdate(status, sequence, at))
        self.history.sort(key=lambda u: u.sequence)
        if applied:
            self.status, self.status_seq = status, sequence
        return applied

    @property
    def active(self) -> bool:
        return self.ended_at is None

    @property
    def other_party(self) -> str:
        """The debtor's side of the line: the number dialled, or the inbound caller's."""
        return self.from_ if self.direction == "inbound" else self.to

    def card(self) -> dict[str, object]:
        """What a supervisor's list of calls shows of the call (``call.created``)."""
        return {
            "call_ref": self.call_ref,
            "account_id": self.account_id,
            "account_reference": self.account_reference,
            "debtor_name": self.debtor_name,
            "number": self.other_party,
            "direction": self.direction,
            "status": self.status,
            "created_at": self.created_at,
        }

    def summary(self) -> dict[str, object]:
        """The operator-facing view of the call (no tokens)."""
        return {
            "call_ref": self.call_ref,
            "call_sid": self.call_sid,
            "org_id": self.org_id,
            "account_id": self.account_id,
            "account_reference": self.account_reference,
            "debtor_name": self.debtor_name,
            "direction": self.direction,
            "opening_mode": self.opening_mode.value,
            "to": self.to,
            "from": self.from_,
            "status": self.status,
            "status_history": [
                {"status": u.status, "sequence": u.sequence, "at": u.at} for u in self.history
            ],
            "answered_by": self.answered_by,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
            "end_reason": self.end_reason,
            "outcome": self.outcome,
            "conversation_id": self.conversation_id,
            "recording_path": self.recording_path,
            "transcript": [{"role": r, "text": t} for r, t in self.transcript],
        }


class CallRegistry(Protocol):
    """Where every process finds a call; see the module docstring.

    Methods that reach a shared store raise
    :class:`~gateway.redis_link.RedisUnavailable` when it does not answer.
    """

    gateway_id: str

    async def add(self, record: CallRecord) -> None: ...
    async def by_ref(self, call_ref: str) -> CallRecord | None: ...
    async def by_sid(self, call_sid: str) -> CallRecord | None: ...
    async def bind_sid(self, record: CallRecord, call_sid: str) -> None: ...
    async def update(self, record: CallRecord, change: Callable[[CallRecord], T]) -> T:
        """Apply ``change`` to the freshest copy, store it, refresh ``record`` from it.

        ``change`` may run more than once (when another process changed the call
        meanwhile), so it must depend on nothing but the record it is given.
        """
        ...

    async def save(self, record: CallRecord, *fields: str) -> None:
        """Store these fields as ``record`` has them (for fields one process owns)."""
        ...

    async def claim(self, record: CallRecord) -> None:
        """This process now runs the call's media stream (and keeps it alive)."""
        ...

    async def active(self, org_id: str) -> list[CallRecord]: ...
    async def issue_stream_token(self, record: CallRecord, ttl_s: float) -> str: ...
    async def redeem_stream_token(self, call_sid: str, token: str) -> CallRecord | None:
        """The call, once, for its right unexpired token; None otherwise (token spent).

        The call is claimed for this process as it is redeemed (see :meth:`claim`): the
        media socket that redeems the token is the one that runs the call.
        """
        ...

    def start(self) -> None: ...
    async def aclose(self) -> None: ...


class InMemoryCallRegistry:
    """Calls of this process, kept for ``retain_s`` after they end for operators to read."""

    def __init__(
        self, retain_s: float = 3600.0, max_records: int = 50_000, gateway_id: str = "local"
    ) -> None:
        self.gateway_id = gateway_id
        self._by_ref: dict[str, CallRecord] = {}
        self._by_sid: dict[str, CallRecord] = {}
        self._retain_s = retain_s
        self._max = max_records

    async def add(self, record: CallRecord) -> None:
        self._evict()
        self._by_ref[record.call_ref] = record
        if record.call_sid:
            self._by_sid[record.call_sid] = record

    async def by_ref(self, call_ref: str) -> CallRecord | None:
        return self._by_ref.get(call_ref)

    async def by_sid(self, call_sid: str) -> CallRecord | None:
        return self._by_sid.get(call_sid)

    async def bind_sid(self, record: CallRecord, call_sid: str) -> None:
        if not record.call_sid:
            record.call_sid = call_sid
        self._by_sid[record.call_sid] = record

    async def update(self, record: CallRecord, change: Callable[[CallRecord], T]) -> T:
        return change(record)

    async def save(self, record: CallRecord, *fields: str) -> None:
        return None

    async def claim(self, record: CallRecord) -> None:
        record.owner = self.gateway_id

    async def active(self, org_id: str) -> list[CallRecord]:
        return [r for r in self._by_ref.values() if r.org_id == org_id and r.active]

    async def issue_stream_token(self, record: CallRecord, ttl_s: float) -> str:
        return record.issue_stream_token(ttl_s, time.monotonic())

    async def redeem_stream_token(self, call_sid: str, token: str) -> CallRecord | None:
        record = self._by_sid.get(call_sid)
        if record is None or not record.redeem_stream_token(token, time.monotonic()):
            return None
        record.owner = self.gateway_id
        return record

    def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._by_ref)

    def _evict(self) -> None:
        if len(self._by_ref) < self._max:
            return
        cutoff = time.time() - self._retain_s
        for ref, rec in list(self._by_ref.items()):
            if rec.ended_at is not None and (
                rec.ended_at < cutoff or len(self._by_ref) >= self._max
            ):
                del self._by_ref[ref]
                self._by_sid.pop(rec.call_sid, None)
