"""The registry of calls this gateway knows about: from the TwiML request to the end.

A :class:`CallRecord` is created when an outbound call is placed or an inbound call's
TwiML is requested, and holds what every later request needs to find and check the
call: its organization and account, the one-time stream token (stored hashed), the
status history and, at the end, the outcome. The registry here is in-process; it is
an interface so that a shared one (Redis) can stand behind it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Protocol

from gateway.call_context import OpeningMode
from gateway.call_status import StatusUpdate, should_apply


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
    def add(self, record: CallRecord) -> None: ...
    def by_ref(self, call_ref: str) -> CallRecord | None: ...
    def by_sid(self, call_sid: str) -> CallRecord | None: ...
    def bind_sid(self, record: CallRecord, call_sid: str) -> None: ...
    def active(self, org_id: str) -> list[CallRecord]: ...


class InMemoryCallRegistry:
    """Calls of this process, kept for ``retain_s`` after they end for operators to read."""

    def __init__(self, retain_s: float = 3600.0, max_records: int = 50_000) -> None:
        self._by_ref: dict[str, CallRecord] = {}
        self._by_sid: dict[str, CallRecord] = {}
        self._retain_s = retain_s
        self._max = max_records

    def add(self, record: CallRecord) -> None:
        self._evict()
        self._by_ref[record.call_ref] = record
        if record.call_sid:
            self._by_sid[record.call_sid] = record

    def by_ref(self, call_ref: str) -> CallRecord | None:
        return self._by_ref.get(call_ref)

    def by_sid(self, call_sid: str) -> CallRecord | None:
        return self._by_sid.get(call_sid)

    def bind_sid(self, record: CallRecord, call_sid: str) -> None:
        record.call_sid = call_sid
        self._by_sid[call_sid] = record

    def active(self, org_id: str) -> list[CallRecord]:
        return [r for r in self._by_ref.values() if r.org_id == org_id and r.active]

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
