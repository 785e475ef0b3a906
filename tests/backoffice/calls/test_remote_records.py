"""The remote adapter against a partner that misbehaves: real HTTP to the stand-in.

Slow, failing, down, refusing, signed with the wrong secret, replayed: in each case
the agent must get something true to say within the tool's time, and the partner
must not end up with a promise twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from structlog.testing import capture_logs

from backoffice.calls.interface import RecordsUnavailable
from backoffice.calls.models import (
    ActionResult,
    ActionStatus,
    CallOutcome,
    CallRef,
    IdentityAnswer,
    OptOutScope,
    PromiseRequest,
)
from backoffice.calls.policy import RemoteRecordsConfig, policy_of
from backoffice.calls.records_config import set_records_settings
from backoffice.calls.remote import RemoteRecords, RemoteRecordsFactory
from backoffice.calls.remote_replies import NOT_IN_TIME, NOT_TAKEN
from backoffice.orgs.models import Organization
from backoffice.store.db import Database
from backoffice.store.tables import audit_log, organizations
from gateway.standins.partner_records import PartnerRecords
from tests.backoffice.calls.backends import (
    SECRET,
    TODAY,
    VAULT,
    AccountSpec,
    RemoteBackend,
    make_remote_org,
    remote_factory_for,
    running_partner,
)

#: The tools' own timeouts (agent_tools): the adapter must answer before them.
READ_TOOL_TIMEOUT_S = 5.0
WRITE_TOOL_TIMEOUT_S = 6.0
DUE = TODAY + dt.timedelta(days=5)


@dataclass
class Remote:
    partner: PartnerRecords
    org: Organization
    factory: RemoteRecordsFactory
    backend: RemoteBackend

    @property
    def records(self) -> RemoteRecords:
        records = self.backend.records
        assert isinstance(records, RemoteRecords)
        return records

    def fresh(self) -> RemoteRecords:
        """A new adapter for the organization, as the resolver builds every few seconds."""
        config = policy_of(self.org.settings).system_of_record
        assert isinstance(config, RemoteRecordsConfig)
        records = self.factory(self.org.id, config)
        assert isinstance(records, RemoteRecords)
        return records


@pytest.fixture
async def remote(db: Database) -> AsyncIterator[Remote]:
    async with running_partner() as partner, remote_factory_for(db) as factory:
        org = await make_remote_org(db, partner, timeout_s=0.3, retries=1)
        yield Remote(partner, org, factory, RemoteBackend(db, org, partner, factory))


def _posts(partner: PartnerRecords, suffix: str) -> list[Any]:
    return [r for r in partner.requests if r.method == "POST" and r.target.endswith(suffix)]


async def _promise(records: RemoteRecords, call: CallRef, key: str = "tool-1") -> ActionResult:
    return await asyncio.wait_for(
        records.register_promise(call, PromiseRequest(Decimal("100.00"), DUE), key),
        WRITE_TOOL_TIMEOUT_S,
    )


# --- retries and idempotency --------------------------------------------------------------


async def test_a_500_before_the_work_is_retried_with_the_same_key(remote: Remote) -> None:
    call = await remote.backend.seed()
    assert call.account_ref is not None
    remote.partner.fail_next, remote.partner.fail_route = 1, "/promises"
    result = await _promise(remote.records, call)
    assert result.ok, result
    posts = _posts(remote.partner, "/promises")
    assert [p.status for p in posts] == [500, 201]
    keys = {p.headers["Idempotency-Key"] for p in posts}
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert len(remote.partner.account(call.account_ref).promises) == 1
    reads = [r for r in remote.partner.requests if r.method == "GET"]
    assert reads and all("Idempotency-Key" not in r.headers for r in reads)


async def test_a_500_after_the_work_is_retried_and_registers_one_promise(remote: Remote) -> None:
    call = await remote.backend.seed()
    assert call.account_ref is not None
    remote.partner.fail_next, remote.partner.fail_after_work = 1, True
    remote.partner.fail_route = "/promises"
    result = await _promise(remote.records, call)
    assert result.ok, result
    posts = _posts(remote.partner, "/promises")
    assert [(p.status, p.acted) for p in posts] == [(500, True), (201, False)]
    promises = remote.partner.account(call.account_ref).promises
    assert len(promises) == 1
    assert result.data["promise_id"] == promises[0]["id"]


async def test_retries_stop_at_the_configured_number(remote: Remote) -> None:
    call = await remote.backend.seed()
    remote.partner.always_fail = True
    result = await remote.records.register_dispute(call, "not mine", "d1")
    assert (result.status, result.message) == (ActionStatus.UNAVAILABLE, NOT_IN_TIME)
    assert len(_posts(remote.partner, "/disputes")) == 2  # one attempt and one retry
    with pytest.raises(RecordsUnavailable):
        await remote.records.balance(call)
    assert len([r for r in remote.partner.requests if r.target.endswith("/balance")]) == 2


async def test_a_4xx_is_not_retried(remote: Remote) -> None:
    call = await remote.backend.seed()
    result = await remote.records.set_channel_preference(call, "fax", "ch1")
    assert (result.status, result.message) == (ActionStatus.UNAVAILABLE, NOT_TAKEN)
    assert [p.status for p in _posts(remote.partner, "/channel-preference")] == [400]


async def test_an_answer_that_is_not_the_documented_one_is_a_failure_not_a_crash(
    remote: Remote,
) -> None:
    call = await remote.backend.seed()
    assert call.account_ref is not None
    remote.partner.garble_next = 1
    with pytest.raises(RecordsUnavailable):
        await remote.records.call_subject(remote.org.id, call.account_ref)
    remote.partner.garble_next = 1
    result = await remote.records.escalate(call, "supervisor", "e1")
    assert (result.status, result.message) == (ActionStatus.UNAVAILABLE, NOT_TAKEN)


# --- a slow partner -----------------------------------------------------------------------


async def test_a_slow_partner_gets_a_spoken_fallback_and_its_late_success_is_not_doubled(
    remote: Remote,
) -> None:
    call = await remote.backend.seed()
    assert call.account_ref is not None
    remote.partner.write_latency_s = 3.0  # far beyond the 0.3 s per attempt
    result = await _promise(remote.records, call)
    assert (result.status, result.message) == (ActionStatus.UNAVAILABLE, NOT_IN_TIME)
    assert "confirmed by message" in result.message
    posts = _posts(remote.partner, "/promises")
    assert len(posts) == 2 and sum(p.acted for p in posts) == 1
    assert len(remote.partner.account(call.account_ref).promises) == 1
    # The partner recovers; the same tool call asked again gets the promise it made.
    remote.partner.write_latency_s = 0.0
    again = await _promise(remote.records, call)
    promises = remote.partner.account(call.account_ref).promises
    assert again.ok and again.data["promise_id"] == promises[0]["id"]
    assert len(promises) == 1
    assert remote.partner.account(call.account_ref).status == "promise_active"


async def test_a_slow_read_raises_unavailable_before_the_tool_gives_up(remote: Remote) -> None:
    call = await remote.backend.seed()
    remote.partner.latency_s = 3.0
    with pytest.raises(RecordsUnavailable):
        await asyncio.wait_for(remote.records.balance(call), READ_TOOL_TIMEOUT_S)
    with pytest.raises(RecordsUnavailable):  # and a failed check is not a wrong answer
        await asyncio.wait_for(
            remote.records.verify_identity(call, IdentityAnswer("4321")), READ_TOOL_TIMEOUT_S
        )


async def test_one_action_is_held_to_the_deadline_even_with_generous_settings(
    db: Database,
) -> None:
    async with running_partner() as partner, remote_factory_for(db, deadline_s=1.0) as factory:
        org = await make_remote_org(db, partner, timeout_s=10, retries=3)
        backend = RemoteBackend(db, org, partner, factory)
        call = await backend.seed()
        partner.write_latency_s = 30.0
        result = await asyncio.wait_for(
            backend.records.register_hardship(call, "lost my job", "h1"), WRITE_TOOL_TIMEOUT_S
        )
        assert result.status is ActionStatus.UNAVAILABLE
        assert len(_posts(partner, "/hardships")) == 1  # no time left for a retry


# --- a partner that is down ---------------------------------------------------------------


async def test_a_partner_that_is_down(remote: Remote) -> None:
    call = await remote.backend.seed()
    assert call.account_ref is not None
    await remote.partner.go_down()
    with pytest.raises(RecordsUnavailable):
        await remote.records.call_subject(remote.org.id, call.account_ref)
    with pytest.raises(RecordsUnavailable):
        await remote.records.match_caller(remote.org.id, "+12125550101")
    written = await remote.records.register_dispute(call, "not mine", "d1")
    assert (written.status, written.message) == (ActionStatus.UNAVAILABLE, NOT_IN_TIME)
    promised = await _promise(remote.records, call)
    assert promised.status is ActionStatus.UNAVAILABLE
    # pushes about the call never raise into it
    assert (
        await remote.records.call_started(call, direction="outbound", within_allowed_hours=True)
        is None
    )
    await remote.records.record_outcome(call, CallOutcome(status="completed"))
    await remote.partner.come_back()
    assert (await remote.records.register_dispute(call, "not mine", "d2")).ok


async def test_an_opt_out_is_honoured_by_parley_when_the_partner_is_down(
    remote: Remote, db: Database
) -> None:
    call = await remote.backend.seed()
    assert call.account_ref is not None
    await remote.partner.go_down()
    with capture_logs() as logs:
        result = await remote.records.opt_out(call, "stop calling", OptOutScope.CONTACT, "o1")
    assert result.ok, result
    # only the number is certain: the partner never heard about the contact
    assert result.data["scope"] == "number"
    assert await remote.backend.dnc_listed("+12125550101")
    assert any(e["event"] == "partner.opt_out_unconfirmed" for e in logs)
    async with db.read() as conn:
        audited = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.entity_id).where(
                    audit_log.c.org_id == remote.org.id, audit_log.c.action == "contact.opt_out"
                )
            )
        ).all()
    assert [(a.action, a.entity_id) for a in audited] == [("contact.opt_out", call.account_ref)]


# --- refusals -----------------------------------------------------------------------------


async def test_the_partners_refusal_reaches_the_agent_with_its_reason(remote: Remote) -> None:
    call = await remote.backend.seed()
    assert call.account_ref is not None
    remote.partner.ledger.refuse_promises = "legal_hold"
    result = await _promise(remote.records, call)
    assert (result.status, result.reason) == (ActionStatus.REFUSED, "legal_hold")
    assert result.message == "Our records do not allow this promise."
    assert remote.partner.account(call.account_ref).promises == []


async def test_parleys_own_rules_refuse_before_the_partner_is_asked(remote: Remote) -> None:
    call = await remote.backend.seed()
    result = await remote.records.register_promise(call, PromiseRequest(Decimal("1000"), DUE), "p1")
    assert result.reason == "above_balance"
    assert _posts(remote.partner, "/promises") == []


# --- signatures ---------------------------------------------------------------------------


async def test_a_partner_expecting_another_secret_refuses_and_is_not_retried(
    remote: Remote,
) -> None:
    call = await remote.backend.seed()
    assert call.account_ref is not None
    remote.partner.secret = "a-different-secret-the-partner-was-given-0000"
    with capture_logs() as logs:
        with pytest.raises(RecordsUnavailable):
            await remote.records.call_subject(remote.org.id, call.account_ref)
        result = await remote.records.register_dispute(call, "not mine", "d1")
    assert (result.status, result.message) == (ActionStatus.UNAVAILABLE, NOT_TAKEN)
    assert [r.status for r in remote.partner.requests] == [401, 401]
    assert [e["event"] for e in logs if e["log_level"] == "error"].count(
        "partner.unauthorized"
    ) == 2
    assert remote.partner.account(call.account_ref).disputes == []


async def test_a_stale_timestamp_is_refused(remote: Remote) -> None:
    call = await remote.backend.seed()
    remote.partner.clock = lambda: time.time() + 301  # the partner's clock is 5 min ahead
    with pytest.raises(RecordsUnavailable):
        await remote.records.balance(call)
    assert remote.partner.requests[-1].status == 401
    remote.partner.clock = lambda: time.time() + 290  # skewed, but inside the window
    assert (await remote.records.balance(call)).pending_balance == Decimal("250.00")


async def test_a_captured_request_replayed_does_nothing_new_and_later_is_refused(
    remote: Remote,
) -> None:
    call = await remote.backend.seed()
    assert call.account_ref is not None
    assert (await _promise(remote.records, call)).ok
    captured = _posts(remote.partner, "/promises")[0]
    headers = {
        k: v
        for k, v in captured.headers.items()
        if k.lower().startswith("x-parley") or k.lower() in ("idempotency-key", "content-type")
    }
    origin = remote.partner.url.removesuffix("/partner")
    async with httpx.AsyncClient(base_url=origin) as attacker:
        replay = await attacker.post(captured.target, content=captured.body, headers=headers)
        assert replay.status_code == 201  # within the window: the stored answer, no new work
        assert not remote.partner.requests[-1].acted
        tampered = captured.body.replace(b'"100.00"', b'"1.00"')
        forged = await attacker.post(captured.target, content=tampered, headers=headers)
        assert forged.status_code == 401
        remote.partner.clock = lambda: time.time() + 600
        late = await attacker.post(captured.target, content=captured.body, headers=headers)
        assert late.status_code == 401
    assert len(remote.partner.account(call.account_ref).promises) == 1


async def test_without_a_stored_secret_nothing_is_sent(remote: Remote, db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            update(organizations)
            .where(organizations.c.id == remote.org.id)
            .values(records_secret=None)
        )
    call = await remote.backend.seed()
    records = remote.fresh()
    with pytest.raises(RecordsUnavailable):
        await records.balance(call)
    result = await records.register_dispute(call, "not mine", "d1")
    assert (result.status, result.message) == (ActionStatus.UNAVAILABLE, NOT_TAKEN)
    assert remote.partner.requests == []


async def test_a_new_secret_is_used_by_the_next_adapter(remote: Remote, db: Database) -> None:
    call = await remote.backend.seed()
    new_secret = "the-rotated-signing-secret-of-this-partner-42"
    await set_records_settings(
        db,
        VAULT,
        org_id=remote.org.id,
        kind="remote",
        url=remote.partner.url,
        timeout_s=0.3,
        retries=1,
        signing_secret=new_secret,
        actor="test",
    )
    remote.partner.secret = new_secret
    assert (await remote.fresh().balance(call)).currency == "USD"


# --- what is logged -----------------------------------------------------------------------


async def test_no_secret_identity_answer_or_phone_reaches_the_logs(remote: Remote) -> None:
    call = await remote.backend.seed(AccountSpec(last4="8642", born=dt.date(1979, 7, 14)))
    answer = IdentityAnswer("8642", dt.date(1979, 7, 14))
    with capture_logs() as logs:
        records = remote.fresh()
        remote.partner.always_fail = True
        with pytest.raises(RecordsUnavailable):
            await records.verify_identity(call, answer)
        with pytest.raises(RecordsUnavailable):
            await records.match_caller(remote.org.id, "+12125550101")
        remote.partner.always_fail = False
        remote.partner.secret = "a-different-secret-the-partner-was-given-0000"
        with pytest.raises(RecordsUnavailable):
            await records.verify_identity(call, answer)
    events = {e["event"] for e in logs}
    assert {"partner.attempt_failed", "partner.unavailable", "partner.unauthorized"} <= events
    text = repr(logs)
    for secret in (SECRET, "8642", "1979-07-14", "+12125550101", "%2B12125550101"):
        assert secret not in text
    # the partner did get the answer: it was sent, only not logged
    checks = [r for r in remote.partner.requests if r.target.endswith("/identity-checks")]
    assert checks and b"8642" in checks[0].body


async def test_the_calls_pushes_reach_the_partner(remote: Remote) -> None:
    call = await remote.backend.seed()
    started = await remote.records.call_started(
        call, direction="inbound", within_allowed_hours=None
    )
    assert started is None  # the timeline lives in the partner's system
    outcome = CallOutcome(status="no-answer", end_reason="no_answer")
    await remote.records.record_outcome(call, outcome)
    await remote.records.record_outcome(call, outcome)  # a repeated report is one report
    kept = remote.partner.ledger.calls[call.call_sid]
    assert kept["started"]["direction"] == "inbound"
    assert kept["started"]["account_ref"] == call.account_ref
    assert len(kept["reports"]) == 1
    assert kept["outcome"]["status"] == "no-answer"
    other = dataclasses.replace(call, org_id="another-org")
    await remote.records.record_outcome(other, outcome)  # refused quietly: not this org's
    assert len(remote.partner.requests) == 3


async def test_an_account_id_with_reserved_characters_reaches_the_right_account(
    remote: Remote,
) -> None:
    call = await remote.backend.seed()
    assert call.account_ref is not None
    odd = dataclasses.replace(remote.partner.account(call.account_ref), ref="ES/2026 #7?")
    remote.partner.add_account(odd)
    subject = await remote.records.call_subject(remote.org.id, "ES/2026 #7?")
    assert subject.account_ref == "ES/2026 #7?"
    moved = dataclasses.replace(call, account_ref="ES/2026 #7?")
    assert (await remote.records.escalate(moved, "supervisor", "e1")).ok
    assert remote.partner.account("ES/2026 #7?").status == "escalated"
    assert remote.partner.account(call.account_ref).status == "pending_contact"


async def test_a_report_the_partner_did_not_take_is_sent_again_once_it_is_back(
    remote: Remote, db: Database
) -> None:
    from backoffice.calls import remote_outbox
    from backoffice.store.tables import partner_pushes

    call = await remote.backend.seed()
    outcome = CallOutcome(status="completed", end_reason="agent_hung_up")
    await remote.partner.go_down()
    await remote.records.record_outcome(call, outcome)  # no exception into the call
    await remote.records.record_outcome(call, outcome)  # the same report: kept once
    async with db.read() as conn:
        kept = (await conn.execute(select(partner_pushes))).all()
    assert [(k.what, k.state) for k in kept] == [("outcome", "pending")]

    async def resender_for(org_id: str) -> remote_outbox.Resender | None:
        return remote.fresh() if org_id == remote.org.id else None

    # not yet due: nothing is sent
    assert await remote_outbox.resend_due(db, resender_for) == 0
    later = kept[0].next_attempt_at + dt.timedelta(seconds=1)
    assert await remote_outbox.resend_due(db, resender_for, now=later) == 0  # still down
    await remote.partner.come_back()
    much_later = later + remote_outbox.MAX_RETRY
    assert await remote_outbox.resend_due(db, resender_for, now=much_later) == 1
    assert remote.partner.ledger.calls[call.call_sid]["outcome"]["status"] == "completed"
    assert await remote_outbox.resend_due(db, resender_for, now=much_later) == 0  # nothing left
    async with db.read() as conn:
        done = (await conn.execute(select(partner_pushes))).one()
    assert done.state == "delivered" and done.attempts == 3


async def test_a_kept_report_is_given_up_after_two_days(remote: Remote, db: Database) -> None:
    from backoffice.calls import remote_outbox
    from backoffice.store.tables import partner_pushes

    call = await remote.backend.seed()
    await remote.partner.go_down()
    await remote.records.record_outcome(call, CallOutcome(status="no-answer"))

    async def resender_for(org_id: str) -> remote_outbox.Resender | None:
        return remote.fresh()

    far = dt.datetime.now(dt.UTC) + remote_outbox.GIVE_UP + dt.timedelta(minutes=1)
    await remote_outbox.resend_due(db, resender_for, now=far)
    async with db.read() as conn:
        row = (await conn.execute(select(partner_pushes))).one()
    assert row.state == "abandoned" and row.finished_at is not None
