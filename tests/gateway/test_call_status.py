"""gateway.call_status: Twilio's status callbacks, applied only when they move forward.

Each callback is its own HTTP request, so they can arrive out of order
(reference twilio-resend.md §3.5).
"""

import pytest

from gateway.call_status import FINAL, RANK, UnknownStatus, should_apply
from gateway.calls import CallRecord


def record() -> CallRecord:
    return CallRecord(call_ref="ref_1", org_id="org_1", account_id="acct_42", direction="outbound")


def feed(rec: CallRecord, *updates: tuple[str, int]) -> list[bool]:
    return [rec.apply_status(status, seq, at=float(seq)) for status, seq in updates]


def test_the_usual_life_of_a_call() -> None:
    rec = record()
    applied = feed(rec, ("initiated", 0), ("ringing", 1), ("in-progress", 2), ("completed", 3))
    assert applied == [True, True, True, True]
    assert rec.status == "completed"
    assert rec.status_seq == 3


def test_ringing_after_in_progress_is_kept_but_not_applied() -> None:
    rec = record()
    assert feed(rec, ("initiated", 0), ("in-progress", 2), ("ringing", 1)) == [True, True, False]
    assert rec.status == "in-progress"
    assert rec.status_seq == 2
    assert [(u.status, u.sequence) for u in rec.history] == [
        ("initiated", 0),
        ("ringing", 1),
        ("in-progress", 2),
    ]


@pytest.mark.parametrize("final", sorted(FINAL))
@pytest.mark.parametrize("later", sorted(RANK))
def test_a_final_status_never_changes(final: str, later: str) -> None:
    rec = record()
    feed(rec, ("initiated", 0), (final, 5))
    assert feed(rec, (later, 9)) == [False]
    assert rec.status == final
    assert len(rec.history) == 3


def test_among_equals_the_higher_sequence_wins() -> None:
    assert should_apply("ringing", 3, "ringing", 4)
    assert not should_apply("ringing", 4, "ringing", 3)
    assert not should_apply("ringing", 4, "ringing", 4)


def test_rank_decides_before_sequence() -> None:
    assert should_apply("ringing", 9, "in-progress", 2)
    assert not should_apply("in-progress", 2, "ringing", 9)


def test_any_known_status_applies_to_a_status_we_do_not_rank() -> None:
    assert should_apply("", -1, "queued", 0)


@pytest.mark.parametrize("status", ["answered", "In-Progress", "", "completed "])
def test_an_unknown_status_raises_and_is_not_recorded(status: str) -> None:
    rec = record()
    with pytest.raises(UnknownStatus):
        rec.apply_status(status, 1, 1.0)
    with pytest.raises(UnknownStatus):
        should_apply("ringing", 0, status, 1)
    assert rec.history == []
    assert rec.status == "queued"


def test_history_is_kept_in_sequence_order_with_arrival_times() -> None:
    rec = record()
    rec.apply_status("completed", 3, 30.0)
    rec.apply_status("ringing", 1, 31.0)
    rec.apply_status("in-progress", 2, 32.0)
    assert [(u.status, u.sequence, u.at) for u in rec.history] == [
        ("ringing", 1, 31.0),
        ("in-progress", 2, 32.0),
        ("completed", 3, 30.0),
    ]
    assert rec.status == "completed"
