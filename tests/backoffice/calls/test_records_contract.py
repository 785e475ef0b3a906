"""The call interface's contract, checked on both backoffices with the same tests.

Each test runs four times: the built-in store on SQLite and on PostgreSQL, and the
remote adapter (signed HTTP to the partner stand-in) with parley's own tables on
SQLite and on PostgreSQL. What a debtor hears and what the account keeps must not
depend on which system holds the debt.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from backoffice.calls.models import (
    ActionStatus,
    CallbackRequest,
    CallOutcome,
    IdentityAnswer,
    OptOutScope,
    PromiseRequest,
)
from backoffice.errors import NotFound
from backoffice.store.db import Database
from tests.backoffice.calls.backends import NOW, TODAY, AccountSpec, Backend, backend_of

ALTERNATE = "+13125550188"


@pytest.fixture(params=["builtin", "remote"])
async def backend(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[Backend]:
    async with backend_of(request.param, db) as found:
        yield found


# --- reading the account ----------------------------------------------------------------


async def test_the_subject_carries_the_account_and_contact_but_no_identity_facts(
    backend: Backend,
) -> None:
    call = await backend.seed(
        AccountSpec(alternates=((ALTERNATE, "valid", "third_party"),), name="Ana María García")
    )
    assert call.account_ref is not None
    subject = await backend.records.call_subject(backend.org.id, call.account_ref)
    assert subject.account_ref == call.account_ref
    assert subject.contact_id == call.contact_id
    assert (subject.contact_name, subject.first_name) == ("Ana María García", "Ana")
    assert (subject.pending_balance, subject.total_amount) == (Decimal("250.00"), Decimal("300"))
    assert subject.currency == "USD"
    assert (subject.status, subject.reference) == ("pending_contact", "LOAN-1")
    assert (subject.timezone, subject.language) == ("America/Chicago", "es-MX")
    assert subject.due_date == dt.date(2026, 10, 31)
    assert [p.number for p in subject.phones] == ["+12125550101", ALTERNATE]
    assert subject.phones[1].source == "third_party"
    assert not subject.opted_out
    fields = {f.name for f in dataclasses.fields(subject)}
    assert not fields & {"document_last4", "date_of_birth", "last4", "document"}
    assert "4321" not in repr(subject)


async def test_an_unknown_or_foreign_account_is_not_found(backend: Backend) -> None:
    call = await backend.seed()
    assert call.account_ref is not None
    with pytest.raises(NotFound):
        await backend.records.call_subject(backend.org.id, "no-such-account")
    with pytest.raises(NotFound):  # the right id, asked for by another organization
        await backend.records.call_subject("another-org", call.account_ref)


async def test_a_caller_is_matched_by_an_alternate_number_settled_accounts_last(
    backend: Backend,
) -> None:
    paid = await backend.seed(
        AccountSpec(
            phone="+12125550131", alternates=((ALTERNATE, "valid", "import"),), status="paid"
        )
    )
    open_ = await backend.seed(
        AccountSpec(phone="+12125550132", alternates=((ALTERNATE, "valid", "agent"),))
    )
    await backend.seed(AccountSpec(phone="+12125550133"))
    found = await backend.records.match_caller(backend.org.id, ALTERNATE)
    assert [s.account_ref for s in found] == [open_.account_ref, paid.account_ref]
    assert await backend.records.match_caller(backend.org.id, "+12125550199") == []


async def test_identity_needs_the_right_digits_and_a_matching_date_of_birth(
    backend: Backend,
) -> None:
    call = await backend.seed()
    verify = backend.records.verify_identity
    assert await verify(call, IdentityAnswer("4321")) is True
    assert await verify(call, IdentityAnswer("4321", dt.date(1984, 2, 29))) is True
    assert await verify(call, IdentityAnswer("1234")) is False
    assert await verify(call, IdentityAnswer("4321", dt.date(1984, 3, 1))) is False
    assert (
        await verify(dataclasses.replace(call, account_ref=None), IdentityAnswer("4321")) is False
    )


async def test_a_debtor_without_a_known_document_never_matches(backend: Backend) -> None:
    call = await backend.seed(AccountSpec(last4=None))
    assert await backend.records.verify_identity(call, IdentityAnswer("0000")) is False


async def test_the_balance_has_its_breakdown_and_the_active_promise(backend: Backend) -> None:
    call = await backend.seed()
    balance = await backend.records.balance(call)
    assert balance.account_ref == call.account_ref
    assert (balance.pending_balance, balance.currency) == (Decimal("250.00"), "USD")
    assert balance.status == "pending_contact"
    assert dict(balance.items) == {
        "capital": Decimal("280.00"),
        "fees": Decimal("20.00"),
        "payment": Decimal("-50.00"),
    }
    assert balance.active_promise is None
    due = TODAY + dt.timedelta(days=7)
    assert (
        await backend.records.register_promise(call, PromiseRequest(Decimal("100"), due), "k1")
    ).ok
    promise = (await backend.records.balance(call)).active_promise
    assert promise is not None
    assert (promise.amount, promise.currency, promise.due_date) == (Decimal("100"), "USD", due)


# --- promises -----------------------------------------------------------------------------


async def test_a_promise_is_registered_and_moves_the_account(backend: Backend) -> None:
    call = await backend.seed()
    assert call.account_ref is not None
    due = TODAY + dt.timedelta(days=10)
    result = await backend.records.register_promise(
        call, PromiseRequest(Decimal("120.50"), due), "tool-1"
    )
    assert result.status is ActionStatus.DONE, result
    assert result.data["amount"] == "120.50"
    assert result.data["currency"] == "USD"
    assert result.data["due_date"] == due.isoformat()
    assert result.data["promise_id"]
    assert "120.50 USD" in result.message
    assert await backend.promises(call.account_ref) == [(Decimal("120.50"), due, "active")]
    assert await backend.status(call.account_ref) == "promise_active"


async def test_a_new_promise_replaces_the_active_one(backend: Backend) -> None:
    call = await backend.seed()
    assert call.account_ref is not None
    first, second = TODAY + dt.timedelta(days=3), TODAY + dt.timedelta(days=20)
    await backend.records.register_promise(call, PromiseRequest(Decimal("50"), first), "a")
    result = await backend.records.register_promise(
        call, PromiseRequest(Decimal("80"), second), "b"
    )
    assert result.ok and "replaces the earlier promise" in result.message
    assert await backend.promises(call.account_ref) == [
        (Decimal("50"), first, "superseded"),
        (Decimal("80"), second, "active"),
    ]


@pytest.mark.parametrize(
    ("amount", "days", "reason"),
    [
        ("250.01", 5, "above_balance"),
        ("100", -1, "date_in_past"),
        ("100", 31, "date_beyond_limit"),
        ("9.99", 5, "below_minimum"),
        ("0", 5, "amount_not_positive"),
    ],
)
async def test_a_promise_outside_the_rules_is_refused_with_a_reason_and_nothing_stored(
    backend: Backend, amount: str, days: int, reason: str
) -> None:
    call = await backend.seed()
    assert call.account_ref is not None
    due = TODAY + dt.timedelta(days=days)
    result = await backend.records.register_promise(
        call, PromiseRequest(Decimal(amount), due), "tool-r"
    )
    assert (result.status, result.reason) == (ActionStatus.REFUSED, reason)
    assert result.message  # a sentence the agent can say
    assert await backend.promises(call.account_ref) == []
    assert await backend.status(call.account_ref) == "pending_contact"


async def test_the_refusal_says_what_would_be_acceptable(backend: Backend) -> None:
    call = await backend.seed()
    above = await backend.records.register_promise(call, PromiseRequest(Decimal("300"), TODAY), "x")
    assert above.data["maximum"] == "250.00"
    past = await backend.records.register_promise(
        call, PromiseRequest(Decimal("100"), TODAY - dt.timedelta(days=1)), "y"
    )
    assert past.data["earliest"] == TODAY.isoformat()
    assert past.data["latest"] == (TODAY + dt.timedelta(days=30)).isoformat()


async def test_a_settled_account_takes_no_promise(backend: Backend) -> None:
    call = await backend.seed(AccountSpec(status="paid"))
    assert call.account_ref is not None
    result = await backend.records.register_promise(call, PromiseRequest(Decimal("10"), TODAY), "z")
    assert (result.status, result.reason) == (ActionStatus.REFUSED, "account_not_workable")
    assert await backend.promises(call.account_ref) == []


# --- the other actions --------------------------------------------------------------------


async def test_a_callback_is_booked_and_confirmed_on_the_debtors_clock(backend: Backend) -> None:
    call = await backend.seed()
    assert call.account_ref is not None
    at = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)  # 17:30 in Chicago
    result = await backend.records.schedule_callback(call, CallbackRequest(at, "after work"), "c1")
    assert result.ok, result
    assert result.data["callback_id"]
    assert "17:30" in result.message and "America/Chicago" in result.message
    assert await backend.callbacks(call.account_ref) == [at]


@pytest.mark.parametrize("kind", ["dispute", "hardship"])
async def test_a_dispute_or_hardship_is_filed_and_the_account_goes_to_review(
    backend: Backend, kind: str
) -> None:
    call = await backend.seed()
    assert call.account_ref is not None
    register = getattr(backend.records, f"register_{kind}")
    result = await register(call, "I never had this loan", f"{kind}-1")
    assert result.ok, result
    assert result.data[f"{kind}_id"]
    assert await backend.cases(call.account_ref, kind) == ["I never had this loan"]
    assert await backend.status(call.account_ref) == "in_review"


async def test_a_verified_debtors_opt_out_covers_the_contact(backend: Backend) -> None:
    call = await backend.seed()
    assert call.account_ref is not None
    result = await backend.records.opt_out(call, "stop calling me", OptOutScope.CONTACT, "o1")
    assert result.ok, result
    assert result.data["scope"] == "contact"
    assert await backend.contact_opted_out(call.account_ref)


async def test_an_unverified_persons_opt_out_lists_the_number(backend: Backend) -> None:
    call = await backend.seed()
    result = await backend.records.opt_out(call, "wrong number", OptOutScope.NUMBER, "o2")
    assert result.ok, result
    assert result.data["scope"] == "number"
    assert await backend.dnc_listed("+12125550101")


async def test_an_unmatched_inbound_callers_opt_out_lists_their_number(backend: Backend) -> None:
    call = await backend.seed()
    unmatched = dataclasses.replace(call, account_ref=None, contact_id=None, number="+12125550177")
    result = await backend.records.opt_out(unmatched, "do not call", OptOutScope.NUMBER, "o3")
    assert result.ok, result
    assert await backend.dnc_listed("+12125550177")


async def test_escalating_moves_the_account_once(backend: Backend) -> None:
    call = await backend.seed()
    assert call.account_ref is not None
    first = await backend.records.escalate(call, "wants a supervisor", "e1")
    assert first.ok and first.data["changed"] is True
    assert await backend.status(call.account_ref) == "escalated"
    again = await backend.records.escalate(call, "still wants one", "e2")
    assert again.ok and again.data["changed"] is False


async def test_an_alternate_number_is_normalised_and_filed_once(backend: Backend) -> None:
    call = await backend.seed()
    assert call.account_ref is not None
    add = backend.records.add_alternate_number
    saved = await add(call, "(312) 555-0188", "third_party", "n1")
    assert saved.ok, saved
    assert saved.data["number"] == ALTERNATE
    assert "saved" in saved.message
    phones = await backend.phones(call.account_ref)
    assert phones[ALTERNATE] == ("valid", "third_party")
    again = await add(call, "+1 312 555 0188", "third_party", "n2")
    assert again.ok and "already on file" in again.message
    assert len(await backend.phones(call.account_ref)) == len(phones)


async def test_an_unreadable_number_is_refused_so_the_agent_asks_again(backend: Backend) -> None:
    call = await backend.seed()
    result = await backend.records.add_alternate_number(call, "12345", "debtor", "n3")
    assert (result.status, result.reason) == (ActionStatus.REFUSED, "invalid_number")


async def test_a_wrong_party_number_is_marked_so_it_is_dialled_last(backend: Backend) -> None:
    call = await backend.seed(AccountSpec(alternates=((ALTERNATE, "valid", "import"),)))
    assert call.account_ref is not None
    result = await backend.records.mark_wrong_party(call, "w1")
    assert result.ok and "Do not mention" in result.message
    phones = await backend.phones(call.account_ref)
    assert phones["+12125550101"][0] == "wrong_party"
    assert phones[ALTERNATE][0] == "valid"
    subject = await backend.records.call_subject(backend.org.id, call.account_ref)
    assert {p.number: p.state for p in subject.phones}["+12125550101"] == "wrong_party"


async def test_the_channel_preference_is_kept(backend: Backend) -> None:
    call = await backend.seed()
    assert call.account_ref is not None
    result = await backend.records.set_channel_preference(call, "whatsapp", "ch1")
    assert result.ok and result.data["channel"] == "whatsapp"
    assert await backend.channel_preference(call.account_ref) == "whatsapp"


async def test_a_calls_start_and_outcome_are_kept_report_by_report(backend: Backend) -> None:
    call = await backend.seed()
    interaction = await backend.records.call_started(
        call, direction="outbound", within_allowed_hours=True
    )
    call = dataclasses.replace(call, interaction_id=interaction)
    ended = NOW + dt.timedelta(minutes=4)
    await backend.records.record_outcome(
        call, CallOutcome(status="completed", started_at=NOW, ended_at=ended, duration_s=240)
    )
    await backend.records.record_outcome(
        call,
        CallOutcome(
            status="completed",
            summary="Promised 100 USD next week.",
            disposition="promise_to_pay",
            source="webhook",
        ),
    )
    kept = await backend.outcome(call)
    assert kept["status"] == "completed"
    assert kept["duration_s"] == 240
    assert kept["summary"] == "Promised 100 USD next week."
    assert kept["disposition"] == "promise_to_pay"
