"""Every agent tool through the runtime on the built-in backoffice (SQLite and PostgreSQL).

What the agent is told, and what lands in the account: refusals it can say, the
identity gate, exactly-once on ``tool_call_id``, concurrent calls for one account.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from agent_tools.catalog import default_registry
from agent_tools.promise import RegisterPromiseParams
from agent_tools.registry import Tool, ToolContext, ToolResult
from agent_tools.runtime import ToolRuntime
from backoffice.accounts import priority
from backoffice.calls.models import PromiseRequest
from backoffice.calls.records import RecordsResolver
from backoffice.calls.sessions import find_session, open_session
from backoffice.compliance.check import Reason, may_contact
from backoffice.orgs.models import OrganizationInput
from backoffice.orgs.service import create_organization
from backoffice.store.db import Database
from backoffice.store.tables import (
    accounts,
    audit_log,
    callback_requests,
    contact_phones,
    contacts,
    debt_items,
    disputes,
    dnc_numbers,
    hardships,
    interaction_events,
    promises,
    utcnow,
)
from tests.backoffice.factories import make_account, make_contact

# Wednesday 18 November 2026, 15:00 in New York.
NOW = dt.datetime(2026, 11, 18, 20, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 18)
_calls = itertools.count(1)


def org_input(**calls: Any) -> OrganizationInput:
    return OrganizationInput(
        name="Acme Collections",
        country="US",
        locale="en-US",
        timezone="America/New_York",
        contact_hours_start="08:00",
        contact_hours_end="21:00",
        contact_days=["mon", "tue", "wed", "thu", "fri", "sat"],
        settings={"calls": calls} if calls else {},
    )


@dataclass
class Desk:
    db: Database
    runtime: ToolRuntime
    org_id: str
    contact_id: str
    account_id: str
    call_sid: str

    async def new_call(self, *, unbound: bool = False, **session: Any) -> str:
        """A new call about the account (``unbound``: an inbound caller not yet matched)."""
        call_sid = f"CA{next(_calls):032d}"
        await open_session(
            self.db,
            org_id=self.org_id,
            call_sid=call_sid,
            direction="outbound",
            account_ref=None if unbound else self.account_id,
            contact_id=None if unbound else self.contact_id,
            number="+12125550100",
            language="en-US",
            **session,
        )
        return call_sid

    async def tool(
        self, name: str, call_sid: str | None = None, tool_call_id: str | None = None, **params: Any
    ) -> dict[str, Any]:
        result = await self.raw(name, call_sid, tool_call_id, **params)
        assert not result.is_error, result.text
        body: dict[str, Any] = orjson.loads(result.text)
        return body

    async def raw(
        self, name: str, call_sid: str | None = None, tool_call_id: str | None = None, **params: Any
    ) -> ToolResult:
        return await self.runtime.run(
            name,
            params,
            org_id=self.org_id,
            call_sid=call_sid or self.call_sid,
            tool_call_id=tool_call_id or f"tc-{next(_calls)}",
        )

    async def verify(self, call_sid: str | None = None) -> None:
        body = await self.tool("verify_identity", call_sid, document_last4="1234")
        assert body["ok"], body

    async def count(self, table: Any, **where: Any) -> int:
        async with self.db.read() as conn:
            query = select(table).where(
                table.c.org_id == self.org_id, *(table.c[k] == v for k, v in where.items())
            )
            return len((await conn.execute(query)).all())

    async def account(self) -> Any:
        async with self.db.read() as conn:
            return (
                await conn.execute(select(accounts).where(accounts.c.id == self.account_id))
            ).one()


async def make_desk(db: Database, **calls: Any) -> Desk:
    org = await create_organization(db, org_input(**calls))
    contact = await make_contact(
        db,
        org.id,
        name="Ann Smith",
        phone="+12125550100",
        document_last4="1234",
        date_of_birth=dt.date(1980, 5, 17),
        timezone="America/New_York",
        language="en-US",
    )
    account = await make_account(
        db,
        org.id,
        contact,
        external_id="ACC-1",
        reference="REF-77",
        total_amount=Decimal("500.00"),
        status="pending_contact",
    )
    async with db.transaction() as conn:
        for kind, amount in (("capital", "400.00"), ("fees", "100.00")):
            await conn.execute(
                debt_items.insert().values(
                    id=f"{kind}{account}"[:32],
                    org_id=org.id,
                    account_id=account,
                    kind=kind,
                    amount=Decimal(amount),
                    state="pending",
                    created_at=utcnow(),
                )
            )
    runtime = ToolRuntime(default_registry(), db, RecordsResolver(db, lambda: NOW), lambda: NOW)
    desk = Desk(db, runtime, org.id, contact, account, "")
    desk.call_sid = await desk.new_call()
    return desk


@pytest.fixture
async def desk(db: Database) -> Desk:
    return await make_desk(db)


# --------------------------------------------------------------------- identity
async def test_nothing_about_the_debt_before_identity_is_verified(desk: Desk) -> None:
    for name, params in (
        ("lookup_account", {}),
        ("register_promise", {"amount": "100", "date": "2026-11-20"}),
        ("register_dispute", {"reason": "not my debt"}),
        ("set_channel_preference", {"channel": "sms"}),
    ):
        body = await desk.tool(name, **params)
        assert body["ok"] is False
        assert body["reason"] == "identity_not_verified"
        assert "500" not in orjson.dumps(body).decode()
    assert await desk.count(promises) == 0
    assert await desk.count(disputes) == 0


async def test_the_third_wrong_answer_ends_verification_for_the_call(desk: Desk) -> None:
    first = await desk.tool("verify_identity", document_last4="0000")
    assert (first["reason"], first["attempts_left"]) == ("no_match", 2)
    second = await desk.tool("verify_identity", document_last4="1111")
    assert second["attempts_left"] == 1
    third = await desk.tool("verify_identity", document_last4="2222")
    assert third["reason"] == "verification_ended"
    late = await desk.tool("verify_identity", document_last4="1234")
    assert late["reason"] == "verification_ended"
    assert (await desk.tool("lookup_account"))["reason"] == "identity_not_verified"
    # Another call for the same account starts afresh.
    other = await desk.new_call()
    await desk.verify(other)


async def test_a_verified_caller_hears_the_balance_formatted_for_their_language(
    desk: Desk,
) -> None:
    await desk.verify()
    body = await desk.tool("lookup_account")
    assert body["ok"]
    assert body["pending_balance"] == "$500.00"
    assert body["breakdown"] == {"capital": "$400.00", "fees": "$100.00"}
    assert "active_promise" not in body


async def test_an_organization_can_require_the_date_of_birth(db: Database) -> None:
    desk = await make_desk(db, require_date_of_birth=True)
    asked = await desk.tool("verify_identity", document_last4="1234")
    assert asked["reason"] == "date_of_birth_required"
    wrong = await desk.tool("verify_identity", document_last4="1234", date_of_birth="1980-05-18")
    assert wrong["reason"] == "no_match"
    assert wrong["attempts_left"] == 2  # asking for the date of birth did not count
    right = await desk.tool("verify_identity", document_last4="1234", date_of_birth="1980-05-17")
    assert right["ok"]


async def test_malformed_parameters_are_an_error_naming_the_field(desk: Desk) -> None:
    result = await desk.raw("verify_identity", document_last4="12a4")
    assert result.is_error
    assert "document_last4" in result.text


# --------------------------------------------------------------------- promises
@pytest.mark.parametrize(
    ("amount", "date", "reason"),
    [
        ("100", "2026-11-17", "date_in_past"),
        ("100", "2027-01-30", "date_beyond_limit"),
        ("500.01", "2026-11-20", "above_balance"),
        ("10", "2026-11-20", "below_minimum"),
    ],
)
async def test_a_promise_outside_the_rules_is_refused_with_what_is_possible(
    db: Database, amount: str, date: str, reason: str
) -> None:
    desk = await make_desk(db, promise_min_percent="10")
    await desk.verify()
    body = await desk.tool("register_promise", amount=amount, date=date)
    assert (body["ok"], body["reason"]) == (False, reason)
    assert body["message"]
    assert await desk.count(promises) == 0
    assert (await desk.account()).status == "pending_contact"


async def test_a_promise_lands_in_the_account_once_with_status_timeline_and_audit(
    desk: Desk,
) -> None:
    await desk.verify()
    first = await desk.tool(
        "register_promise", tool_call_id="tc-promise", amount="120.50", date="2026-11-20"
    )
    again = await desk.tool(
        "register_promise", tool_call_id="tc-promise", amount="120.50", date="2026-11-20"
    )
    assert first == again
    assert first["ok"] and first["due_date"] == "2026-11-20"
    assert await desk.count(promises, status="active") == 1
    assert (await desk.account()).status == "promise_active"
    assert await desk.count(interaction_events, kind="promise") == 1
    assert await desk.count(audit_log, action="promise.create") == 1


async def test_the_promise_rescores_the_account_once_the_agent_is_answered(
    desk: Desk,
) -> None:
    await desk.verify()
    assert (await desk.account()).priority_computed_at is None
    body = await desk.tool("register_promise", amount="120.50", date="2026-11-20")
    assert body["ok"]
    await desk.db.settle()
    stored = await desk.account()
    assert stored.priority_computed_at is not None
    async with desk.db.transaction() as conn:
        fresh = await priority.recalculate(conn, org_id=desk.org_id, account_id=desk.account_id)
    assert stored.priority_score == fresh.score


async def test_a_new_promise_replaces_the_active_one(desk: Desk) -> None:
    await desk.verify()
    await desk.tool("register_promise", amount="100", date="2026-11-20")
    body = await desk.tool("register_promise", amount="200", date="2026-11-25")
    assert "replaces" in body["message"]
    assert await desk.count(promises, status="active") == 1
    assert await desk.count(promises, status="superseded") == 1
    looked = await desk.tool("lookup_account")
    assert looked["active_promise"]["amount"] == "$200.00"


async def test_repeats_of_one_tool_call_at_the_same_time_register_one_promise(
    desk: Desk,
) -> None:
    await desk.verify()
    results = await asyncio.gather(
        *(
            desk.tool("register_promise", tool_call_id="tc-same", amount="50", date="2026-11-20")
            for _ in range(4)
        )
    )
    assert all(r["ok"] for r in results)
    assert await desk.count(promises) == 1


async def test_two_calls_for_one_account_leave_exactly_one_active_promise(desk: Desk) -> None:
    other = await desk.new_call()
    await desk.verify()
    await desk.verify(other)
    first, second = await asyncio.gather(
        desk.tool("register_promise", amount="100", date="2026-11-20"),
        desk.tool("register_promise", other, amount="150", date="2026-11-21"),
    )
    assert first["ok"] and second["ok"]
    assert await desk.count(promises) == 2
    assert await desk.count(promises, status="active") == 1


# -------------------------------------------------------------------- callbacks
async def test_a_callback_inside_the_hours_is_booked_and_pauses_contact(desk: Desk) -> None:
    body = await desk.tool("schedule_callback", at="2026-11-19T18:30", note="after work")
    assert body["ok"] and "moved" not in body
    async with desk.db.read() as conn:
        row = (await conn.execute(select(callback_requests))).one()
    expected = dt.datetime(2026, 11, 19, 23, 30, tzinfo=dt.UTC)  # 18:30 in New York
    assert row.scheduled_for == expected
    assert row.number == "+12125550100"
    assert (await desk.account()).next_contact_at == expected


async def test_a_callback_outside_the_hours_moves_to_the_next_allowed_time(desk: Desk) -> None:
    body = await desk.tool("schedule_callback", at="2026-11-19T22:30")
    assert body["moved"] is True
    assert body["at"].startswith("2026-11-20T08:00")
    async with desk.db.read() as conn:
        row = (await conn.execute(select(callback_requests))).one()
    assert row.scheduled_for == dt.datetime(2026, 11, 20, 13, 0, tzinfo=dt.UTC)


async def test_a_callback_time_that_is_not_a_time_is_refused(desk: Desk) -> None:
    body = await desk.tool("schedule_callback", at="tomorrow evening")
    assert body["reason"] == "invalid_time"
    assert await desk.count(callback_requests) == 0


# ------------------------------------------------------- disputes and the like
async def test_a_dispute_stops_collection_until_reviewed(desk: Desk) -> None:
    await desk.verify()
    body = await desk.tool("register_dispute", reason="I already paid this in October")
    assert body["ok"]
    assert await desk.count(disputes, status="open") == 1
    assert (await desk.account()).status == "in_review"


async def test_a_hardship_is_recorded_for_review(desk: Desk) -> None:
    await desk.verify()
    body = await desk.tool("register_hardship", reason="lost my job last month")
    assert body["ok"]
    assert await desk.count(hardships) == 1
    assert (await desk.account()).status == "in_review"


async def test_anyone_can_be_escalated_to_a_person(desk: Desk) -> None:
    body = await desk.tool("escalate", reason="caller threatens legal action")
    assert body["ok"]
    assert (await desk.account()).status == "escalated"


# ---------------------------------------------------------------------- opt-out
async def test_an_unverified_person_opts_the_number_out_not_the_debtor(desk: Desk) -> None:
    body = await desk.tool("opt_out", reason="stop calling this number")
    assert body["ok"] and body["scope"] == "number"
    assert await desk.count(dnc_numbers, number="+12125550100") == 1
    async with desk.db.read() as conn:
        call = await may_contact(
            conn, org_id=desk.org_id, contact_id=desk.contact_id, channel="call", at=NOW
        )
        email = await may_contact(
            conn, org_id=desk.org_id, contact_id=desk.contact_id, channel="email", at=NOW
        )
    assert call.reason is Reason.DNC_LISTED
    assert email.allowed


async def test_a_verified_debtor_opts_out_of_every_channel_at_once(desk: Desk) -> None:
    await desk.verify()
    body = await desk.tool("opt_out", reason="do not contact me again")
    assert body["scope"] == "contact"
    async with desk.db.read() as conn:
        opted = (
            await conn.execute(select(contacts.c.opted_out).where(contacts.c.id == desk.contact_id))
        ).scalar()
        for channel in ("call", "sms", "whatsapp", "email"):
            decision = await may_contact(
                conn, org_id=desk.org_id, contact_id=desk.contact_id, channel=channel, at=NOW
            )
            assert decision.reason is Reason.OPTED_OUT
    assert opted is True
    assert await desk.count(audit_log, action="contact.opt_out") == 1


# ---------------------------------------------------------------- contact details
async def test_an_alternate_number_from_a_third_party_is_stored_in_e164(desk: Desk) -> None:
    body = await desk.tool("capture_alternate_number", number="(212) 555-0199")
    assert body["ok"] and body["number"] == "+12125550199"
    again = await desk.tool("capture_alternate_number", number="212 555 0199")
    assert "already on file" in again["message"]
    assert await desk.count(contact_phones, number="+12125550199", source="third_party") == 1
    bad = await desk.tool("capture_alternate_number", number="12345")
    assert bad["reason"] == "invalid_number"


async def test_a_wrong_person_ends_verification_and_rotates_the_number(desk: Desk) -> None:
    await make_contact_phone_row(desk)
    body = await desk.tool("report_wrong_person", note="says Ann moved away")
    assert body["ok"]
    assert (await desk.tool("lookup_account"))["reason"] == "identity_not_verified"
    assert (await desk.tool("verify_identity", document_last4="1234"))["reason"] == (
        "verification_ended"
    )
    assert await desk.count(contact_phones, number="+12125550100", state="wrong_party") == 1


async def make_contact_phone_row(desk: Desk) -> None:
    async with desk.db.transaction() as conn:
        await conn.execute(
            contact_phones.insert().values(
                id="p" + desk.contact_id[:31],
                org_id=desk.org_id,
                contact_id=desk.contact_id,
                number="+12125550100",
                state="valid",
                source="import",
                consecutive_failures=0,
                created_at=utcnow(),
            )
        )


async def test_a_channel_preference_is_stored_for_the_verified_debtor(desk: Desk) -> None:
    await desk.verify()
    body = await desk.tool("set_channel_preference", channel="whatsapp")
    assert body["ok"]
    async with desk.db.read() as conn:
        preferred = (
            await conn.execute(
                select(contacts.c.preferred_channel).where(contacts.c.id == desk.contact_id)
            )
        ).scalar()
    assert preferred == "whatsapp"


# -------------------------------------------------------------------- transfer
async def test_a_transfer_needs_a_number_and_briefs_the_person(db: Database) -> None:
    without = await make_desk(db)
    refused = await without.tool("transfer_to_human", reason="wants a person")
    assert refused["reason"] == "no_transfer_number"
    desk = await make_desk(db, human_transfer_number="+12125550999")
    await desk.verify()
    result = await desk.raw("transfer_to_human", reason="wants to negotiate a plan")
    assert result.transfer is not None
    assert result.transfer.number == "+12125550999"
    assert "verified debtor" in result.transfer.brief
    assert "negotiate" in result.transfer.brief
    assert "500" not in result.transfer.brief


# --------------------------------------------------------------- calls and orgs
async def test_a_call_of_another_organization_is_not_known(db: Database, desk: Desk) -> None:
    other = await make_desk(db)
    result = await desk.runtime.run(
        "lookup_account",
        {},
        org_id=desk.org_id,
        call_sid=other.call_sid,
        tool_call_id="tc-x",
    )
    assert result.is_error
    assert "not known" in result.text


async def test_end_call_works_even_without_a_session(desk: Desk) -> None:
    result = await desk.runtime.run(
        "end_call", {}, org_id=desk.org_id, call_sid="CAunknown", tool_call_id="tc-end"
    )
    assert result.end_call and not result.is_error


async def test_an_inbound_caller_is_verified_against_each_matching_debtor(desk: Desk) -> None:
    bob = await make_contact(
        desk.db, desk.org_id, name="Bob Stone", phone="+12125550100", document_last4="9876"
    )
    bob_account = await make_account(desk.db, desk.org_id, bob, reference="REF-B")
    call = await desk.new_call(
        unbound=True,
        candidates=[
            {"account_ref": desk.account_id, "contact_id": desk.contact_id, "reference": "REF-77"},
            {"account_ref": bob_account, "contact_id": bob, "reference": "REF-B"},
        ],
    )
    body = await desk.tool("verify_identity", call, document_last4="9876")
    assert body["ok"]
    session = await find_session(desk.db, call)
    assert session is not None
    assert (session.account_ref, session.contact_id) == (bob_account, bob)
    assert session.interaction_id is not None


async def test_a_verified_caller_with_several_accounts_is_asked_which(desk: Desk) -> None:
    second = await make_account(desk.db, desk.org_id, desk.contact_id, reference="REF-88")
    call = await desk.new_call(
        unbound=True,
        candidates=[
            {"account_ref": desk.account_id, "contact_id": desk.contact_id, "reference": "REF-77"},
            {"account_ref": second, "contact_id": desk.contact_id, "reference": "REF-88"},
        ],
    )
    body = await desk.tool("verify_identity", call, document_last4="1234")
    assert sorted(body["accounts"]) == ["REF-77", "REF-88"]
    assert (await desk.tool("lookup_account", call))["reason"] == "no_account"
    unknown = await desk.tool("select_account", call, reference="REF-99")
    assert unknown["reason"] == "unknown_reference"
    chosen = await desk.tool("select_account", call, reference="ref-88")
    assert chosen["ok"]
    assert (await desk.tool("lookup_account", call))["pending_balance"] == "$100.00"


async def test_a_tool_that_fails_halfway_leaves_nothing_and_may_be_retried(desk: Desk) -> None:
    await desk.verify()
    registry = default_registry()
    attempts: list[int] = []

    async def promise_then_crash(params: RegisterPromiseParams, ctx: ToolContext) -> ToolResult:
        assert ctx.scope is not None
        await ctx.scope.records.register_promise(
            ctx.scope.call, PromiseRequest(params.amount, params.date), ctx.tool_call_id
        )
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("the status change failed after the promise was written")
        return ToolResult("done")

    registry.register(Tool("fragile_promise", "test", RegisterPromiseParams, promise_then_crash))
    runtime = ToolRuntime(registry, desk.db, desk.runtime.resolver, lambda: NOW)
    params = {"amount": "100", "date": "2026-11-20"}
    ids = {"org_id": desk.org_id, "call_sid": desk.call_sid, "tool_call_id": "tc-fragile"}
    first = await runtime.run("fragile_promise", params, **ids)
    assert first.is_error and first.failed
    assert await desk.count(promises) == 0  # the half-done work was rolled back
    assert (await desk.account()).status == "pending_contact"
    second = await runtime.run("fragile_promise", params, **ids)
    assert second.text == "done"
    assert await desk.count(promises) == 1
