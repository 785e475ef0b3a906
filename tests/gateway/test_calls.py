"""gateway.calls: call records, their one-time stream token, the in-process registry's eviction."""

import pytest

from gateway.call_context import OpeningMode
from gateway.calls import CallRecord, InMemoryCallRegistry

TTL = 30.0


def record(ref: str = "ref_1", org: str = "org_1", sid: str = "") -> CallRecord:
    return CallRecord(
        call_ref=ref, org_id=org, account_id="acct_42", direction="outbound", call_sid=sid
    )


# ------------------------------------------------------------ stream token
def test_the_stream_token_works_once() -> None:
    rec = record()
    token = rec.issue_stream_token(TTL, now=100.0)
    assert rec.redeem_stream_token(token, now=101.0)
    assert not rec.redeem_stream_token(token, now=101.0)


def test_the_stream_token_expires() -> None:
    rec = record()
    token = rec.issue_stream_token(TTL, now=100.0)
    assert not rec.redeem_stream_token(token, now=100.0 + TTL + 0.001)


def test_the_stream_token_is_good_until_its_last_instant() -> None:
    rec = record()
    token = rec.issue_stream_token(TTL, now=100.0)
    assert rec.redeem_stream_token(token, now=100.0 + TTL)


def test_a_wrong_token_fails_and_spends_the_right_one() -> None:
    rec = record()
    token = rec.issue_stream_token(TTL, now=100.0)
    assert not rec.redeem_stream_token("guess", now=101.0)
    assert not rec.redeem_stream_token(token, now=101.0)


@pytest.mark.parametrize("token", ["", "x"])
def test_no_token_issued_means_nothing_redeems(token: str) -> None:
    assert not record().redeem_stream_token(token, now=0.0)


def test_a_new_token_replaces_the_old_one() -> None:
    rec = record()
    old = rec.issue_stream_token(TTL, now=100.0)
    new = rec.issue_stream_token(TTL, now=100.0)
    assert new != old
    assert not rec.redeem_stream_token(old, now=101.0)
    rec.issue_stream_token(TTL, now=100.0)
    third = rec.issue_stream_token(TTL, now=100.0)
    assert rec.redeem_stream_token(third, now=101.0)


def test_tokens_are_long_random_and_never_stored_or_shown() -> None:
    rec = record()
    tokens = {rec.issue_stream_token(TTL, now=0.0) for _ in range(100)}
    assert len(tokens) == 100
    assert min(len(t) for t in tokens) >= 32
    token = rec.issue_stream_token(TTL, now=0.0)
    assert token not in repr(rec.summary())
    assert token not in [getattr(rec, name) for name in CallRecord.__slots__ if name != "history"]


# ------------------------------------------------------------ summary
def test_summary_is_the_operator_view() -> None:
    rec = record(sid="CA1")
    rec.opening_mode = OpeningMode.AGENT_FIRST
    rec.apply_status("ringing", 1, 5.0)
    rec.transcript = [("agent", "Hello"), ("caller", "Hi")]
    summary = rec.summary()
    assert summary["call_sid"] == "CA1"
    assert summary["opening_mode"] == "agent_first"
    assert summary["status"] == "ringing"
    assert summary["status_history"] == [{"status": "ringing", "sequence": 1, "at": 5.0}]
    assert summary["transcript"] == [
        {"role": "agent", "text": "Hello"},
        {"role": "caller", "text": "Hi"},
    ]
    assert not any("token" in key for key in summary)
    assert rec.active


# ------------------------------------------------------------ registry
# (the behaviour both backends share is in test_call_registry.py)
async def test_registry_evicts_ended_calls_when_full() -> None:
    registry = InMemoryCallRegistry(retain_s=3600.0, max_records=2)
    ended, live = record("ended", sid="CA_ended"), record("live")
    ended.ended_at = 1.0
    await registry.add(ended)
    await registry.add(live)
    await registry.add(record("third"))
    assert await registry.by_ref("ended") is None
    assert await registry.by_sid("CA_ended") is None
    assert await registry.by_ref("live") is live
