"""The partner stand-in's ledger: accounts in memory and what each write does to them.

A plain model of a collections system, as docs/partner-api.md describes one: it
refuses a promise above the balance or on a settled account, files numbers, moves
statuses. It is written from the documented API, not from parley's code, so that the
remote adapter is checked against the contract rather than against itself.
Every handler takes the decoded JSON body and returns ``(status, body)``; a bad
field is a :class:`BadRequest` naming it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
CHANNELS = ("call", "sms", "whatsapp", "email")
SETTLED = ("paid", "closed")
Answer = tuple[int, dict[str, Any]]


class BadRequest(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass
class PartnerPhone:
    number: str
    state: str = "valid"
    source: str = "import"
    consecutive_failures: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "source": self.source,
            "consecutive_failures": self.consecutive_failures,
            "last_attempt_at": None,
        }


@dataclass
class PartnerAccount:
    """One account and its debtor; the lists record every write, as the partner keeps it."""

    ref: str
    contact_name: str
    pending_balance: Decimal
    currency: str
    total_amount: Decimal | None = None
    status: str = "pending_contact"
    contact_id: str | None = None
    reference: str | None = None
    due_date: dt.date | None = None
    language: str | None = None
    timezone: str | None = None
    email: str | None = None
    whatsapp: str | None = None
    phones: list[PartnerPhone] = field(default_factory=list)
    items: list[tuple[str, Decimal]] = field(default_factory=list)
    document_last4: str | None = None
    date_of_birth: dt.date | None = None
    opted_out: bool = False
    preferred_channel: str | None = None
    promises: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    hardships: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    opt_outs: list[dict[str, Any]] = field(default_factory=list)
    wrong_party: list[dict[str, Any]] = field(default_factory=list)

    def subject(self) -> dict[str, Any]:
        return {
            "account_ref": self.ref,
            "reference": self.reference,
            "status": self.status,
            "pending_balance": str(self.pending_balance),
            "total_amount": str(self.total_amount or self.pending_balance),
            "currency": self.currency,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "contact_id": self.contact_id,
            "contact_name": self.contact_name,
            "language": self.language,
            "timezone": self.timezone,
            "email": self.email,
            "whatsapp": self.whatsapp,
            "opted_out": self.opted_out,
            "phones": [p.to_json() for p in self.phones],
        }

    def balance(self) -> dict[str, Any]:
        totals: dict[str, Decimal] = {}
        for kind, amount in self.items:
            totals[kind] = totals.get(kind, Decimal("0")) + amount
        active = self.active_promise()
        return {
            "account_ref": self.ref,
            "pending_balance": str(self.pending_balance),
            "total_amount": str(self.total_amount or self.pending_balance),
            "currency": self.currency,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "status": self.status,
            "items": [{"kind": k, "amount": str(v)} for k, v in totals.items()],
            "active_promise": None
            if active is None
            else {k: active[k] for k in ("amount", "currency", "due_date")},
        }

    def active_promise(self) -> dict[str, Any] | None:
        return next((p for p in reversed(self.promises) if p["status"] == "active"), None)

    def numbers(self) -> set[str]:
        return {p.number for p in self.phones} | ({self.whatsapp} if self.whatsapp else set())


class PartnerLedger:
    """All accounts of the partner, and the calls it was told about."""

    def __init__(self) -> None:
        self.accounts: dict[str, PartnerAccount] = {}
        self.calls: dict[str, dict[str, Any]] = {}
        self.blocked_numbers: set[str] = set()
        #: A reason here makes every promise refused with it (a partner's own rule).
        self.refuse_promises: str | None = None
        self._ids = itertools.count(1)

    def add(self, account: PartnerAccount) -> PartnerAccount:
        self.accounts[account.ref] = account
        return account

    def new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}"

    # --- reads ------------------------------------------------------------------------

    def account(self, ref: str) -> PartnerAccount | None:
        return self.accounts.get(ref)

    def by_phone(self, number: str) -> list[dict[str, Any]]:
        found = [a for a in self.accounts.values() if number in a.numbers()]
        found.sort(key=lambda a: (a.status in SETTLED, -a.pending_balance, a.ref))
        return [a.subject() for a in found]

    def identity(self, account: PartnerAccount, body: dict[str, Any]) -> Answer:
        last4 = _text(body, "document_last4", required=True)
        born_text = body.get("date_of_birth")
        born = _date(body, "date_of_birth") if born_text is not None else None
        match = account.document_last4 is not None and last4 == account.document_last4
        if born is not None:
            match = match and born == account.date_of_birth
        return 200, {"match": match}

    # --- writes -----------------------------------------------------------------------

    def promise(self, account: PartnerAccount, body: dict[str, Any]) -> Answer:
        amount = _amount(body, "amount")
        due = _date(body, "due_date")
        if body.get("currency") != account.currency:
            raise BadRequest("currency", f"the account is in {account.currency}")
        if self.refuse_promises:
            return _refused(self.refuse_promises, "Our records do not allow this promise.")
        if account.status in SETTLED:
            return _refused("account_not_workable", "This account takes no promise.")
        if amount > account.pending_balance:
            return _refused(
                "above_balance",
                f"The most that can be promised is {account.pending_balance} {account.currency}.",
                maximum=str(account.pending_balance),
            )
        replaced = False
        for earlier in account.promises:
            if earlier["status"] == "active":
                earlier["status"] = "superseded"
                replaced = True
        promise_id = self.new_id("P")
        account.promises.append(
            {
                "id": promise_id,
                "amount": str(amount),
                "currency": account.currency,
                "due_date": due.isoformat(),
                "status": "active",
                "call_sid": body.get("call_sid"),
            }
        )
        account.status = "promise_active"
        return 201, {
            "status": "done",
            "promise_id": promise_id,
            "amount": str(amount),
            "currency": account.currency,
            "due_date": due.isoformat(),
            "replaced": replaced,
        }

    def callback(self, account: PartnerAccount, body: dict[str, Any]) -> Answer:
        at = _time(body, "at")
        callback_id = self.new_id("CB")
        account.callbacks.append(
            {
                "id": callback_id,
                "at": at,
                "note": body.get("note") or "",
                "number": body.get("number"),
            }
        )
        return 201, {"status": "done", "callback_id": callback_id}

    def dispute(self, account: PartnerAccount, body: dict[str, Any]) -> Answer:
        return self._case(account, body, account.disputes, "D", "dispute_id")

    def hardship(self, account: PartnerAccount, body: dict[str, Any]) -> Answer:
        return self._case(account, body, account.hardships, "H", "hardship_id")

    def _case(
        self,
        account: PartnerAccount,
        body: dict[str, Any],
        cases: list[dict[str, Any]],
        prefix: str,
        key: str,
    ) -> Answer:
        reason = _text(body, "reason", required=True)
        case_id = self.new_id(prefix)
        cases.append({"id": case_id, "reason": reason})
        account.status = "in_review"
        return 201, {"status": "done", key: case_id}

    def opt_out(self, account: PartnerAccount, body: dict[str, Any]) -> Answer:
        scope = body.get("scope")
        if scope not in ("contact", "number"):
            raise BadRequest("scope", "must be contact or number")
        number = body.get("number")
        if scope == "contact":
            account.opted_out = True
        elif isinstance(number, str) and E164.match(number):
            self.blocked_numbers.add(number)
        else:
            raise BadRequest("number", "an E.164 number is needed for scope number")
        account.opt_outs.append({"scope": scope, "number": number, "reason": body.get("reason")})
        return 201, {"status": "done"}

    def escalation(self, account: PartnerAccount, body: dict[str, Any]) -> Answer:
        reason = _text(body, "reason", required=True)
        changed = account.status not in ("escalated", *SETTLED)
        if changed:
            account.status = "escalated"
        account.escalations.append({"reason": reason})
        return 201, {"status": "done", "changed": changed}

    def phone(self, account: PartnerAccount, body: dict[str, Any]) -> Answer:
        number = _text(body, "number", required=True)
        if not E164.match(number):
            raise BadRequest("number", "must be E.164")
        if body.get("relation") not in ("debtor", "third_party"):
            raise BadRequest("relation", "must be debtor or third_party")
        known = number in {p.number for p in account.phones}
        if not known:
            account.phones.append(PartnerPhone(number, source=str(body.get("source") or "agent")))
        return 201, {"status": "done", "already_known": known}

    def wrong_party(self, account: PartnerAccount, body: dict[str, Any]) -> Answer:
        number = body.get("number")
        for phone in account.phones:
            if phone.number == number:
                phone.state = "wrong_party"
        account.wrong_party.append({"number": number})
        return 201, {"status": "done"}

    def channel(self, account: PartnerAccount, body: dict[str, Any]) -> Answer:
        channel = body.get("channel")
        if channel not in CHANNELS:
            raise BadRequest("channel", f"must be one of {', '.join(CHANNELS)}")
        account.preferred_channel = str(channel)
        return 201, {"status": "done", "channel": channel}

    # --- calls ------------------------------------------------------------------------

    def call_started(self, call_sid: str, body: dict[str, Any]) -> Answer:
        call = self.calls.setdefault(call_sid, {"started": None, "reports": [], "outcome": {}})
        call["started"] = body
        return 200, {"status": "done"}

    def call_outcome(self, call_sid: str, body: dict[str, Any]) -> Answer:
        if not isinstance(body.get("status"), str):
            raise BadRequest("status", "required")
        call = self.calls.setdefault(call_sid, {"started": None, "reports": [], "outcome": {}})
        call["reports"].append(body)
        call["outcome"].update({k: v for k, v in body.items() if v is not None})
        return 200, {"status": "done"}


def _refused(reason: str, message: str, **facts: str) -> Answer:
    return 422, {"status": "refused", "reason": reason, "message": message, **facts}


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = body.get(name)
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadRequest(name, "required text")
    return value


def _amount(body: dict[str, Any], name: str) -> Decimal:
    value = body.get(name)
    if not isinstance(value, str):
        raise BadRequest(name, 'an amount as a string, e.g. "120.50"')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BadRequest(name, "not an amount") from None
    if not amount.is_finite() or amount <= 0:
        raise BadRequest(name, "must be more than zero")
    return amount


def _date(body: dict[str, Any], name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(body.get(name)))
    except ValueError:
        raise BadRequest(name, "a date YYYY-MM-DD") from None


def _time(body: dict[str, Any], name: str) -> str:
    try:
        value = dt.datetime.fromisoformat(str(body.get(name)))
    except ValueError:
        raise BadRequest(name, "an ISO 8601 time") from None
    if value.tzinfo is None:
        raise BadRequest(name, "needs an offset")
    return value.astimezone(dt.UTC).isoformat()
