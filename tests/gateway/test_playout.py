"""gateway.playout: paced release of 20 ms frames with a small lead at Twilio.

Every test passes the clock explicitly; nothing here reads the time.
"""

import json
import random

import pytest

from gateway.playout import FRAME_S, Playout

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
EPS = 1e-9


def frames(first: int, count: int) -> list[str]:
    return [f"f{n}" for n in range(first, first + count)]


def release(playout: Playout, now: float) -> tuple[list[str], list[str]]:
    """Release at ``now``; returns the frames and the mark names sent, in order."""
    out: list[str] = []
    playout.release(now, SID, out)
    messages = [json.loads(text) for text in out]
    media = [m["media"]["payload"] for m in messages if m["event"] == "media"]
    marks = [m["mark"]["name"] for m in messages if m["event"] == "mark"]
    if messages:
        assert messages[-1]["event"] == "mark", "every batch ends with its mark"
        assert len(marks) == 1
    return media, marks


# ------------------------------------------------------------ construction
@pytest.mark.parametrize(("low", "high"), [(0.0, 0.24), (-0.1, 0.24), (0.1, 0.1), (0.1, 0.119)])
def test_leads_must_leave_room_for_a_frame(low: float, high: float) -> None:
    with pytest.raises(ValueError, match="lead"):
        Playout(lead_low_s=low, lead_high_s=high)


def test_the_tightest_valid_leads_still_release() -> None:
    playout = Playout(lead_low_s=0.22, lead_high_s=0.24)
    playout.enqueue(frames(0, 50), 1)
    media, _ = release(playout, 0.0)
    assert len(media) == 12
    deadline = playout.next_deadline()
    assert deadline is not None
    media, marks = release(playout, deadline)
    assert len(media) == 1
    assert len(marks) == 1


# ------------------------------------------------------------ pacing
def test_first_release_fills_the_lead_and_ends_with_one_mark() -> None:
    playout = Playout(lead_low_s=0.10, lead_high_s=0.24)
    playout.enqueue(frames(0, 100), response_id=7)
    media, marks = release(playout, 50.0)
    assert media == frames(0, 12)  # 12 x 20 ms = 240 ms
    assert marks == ["0:1"]
    assert playout.queued_frames == 88
    assert playout.frames_sent == 12
    assert playout.sent_s == pytest.approx(0.24)


def test_nothing_moves_while_the_lead_is_above_lead_low() -> None:
    playout = Playout(lead_low_s=0.10, lead_high_s=0.24)
    playout.enqueue(frames(0, 100), 1)
    release(playout, 50.0)
    for ms in range(1, 140):
        assert release(playout, 50.0 + ms / 1000) == ([], [])


def test_next_deadline_is_when_the_lead_falls_to_lead_low() -> None:
    playout = Playout(lead_low_s=0.10, lead_high_s=0.24)
    assert playout.next_deadline() is None
    playout.enqueue(frames(0, 100), 1)
    assert playout.next_deadline() is not None  # due now: nothing is at Twilio yet
    release(playout, 50.0)
    deadline = playout.next_deadline()
    assert deadline is not None
    assert deadline == pytest.approx(50.0 + 0.24 - 0.10)
    media, marks = release(playout, deadline)
    assert media == frames(12, 7)  # topped up from 100 ms back to 240 ms
    assert marks == ["0:2"]


def test_no_deadline_once_the_queue_is_empty() -> None:
    playout = Playout()
    playout.enqueue(frames(0, 3), 1)
    release(playout, 1.0)
    assert playout.queued_frames == 0
    assert playout.next_deadline() is None


def test_an_empty_queue_sends_no_mark() -> None:
    playout = Playout()
    assert release(playout, 1.0) == ([], [])
    assert playout.frames_sent == 0


def test_after_a_gap_the_lead_restarts_from_now() -> None:
    playout = Playout(lead_low_s=0.10, lead_high_s=0.24)
    playout.enqueue(frames(0, 3), 1)
    release(playout, 10.0)
    playout.enqueue(frames(3, 50), 2)
    media, _ = release(playout, 20.0)  # Twilio went quiet long ago
    assert media == frames(3, 12)


@pytest.mark.parametrize("start", [0.0, 0.3, 1.0, 12345.678, 30 * 86400 + 0.123])
def test_the_lead_never_exceeds_lead_high_whatever_the_clock(start: float) -> None:
    """Releasing at every deadline keeps at most lead_high queued at Twilio.

    Sums of 20 ms are not exact in binary; this once let a batch grow to 13 frames.
    """
    playout = Playout(lead_low_s=0.10, lead_high_s=0.24)
    playout.enqueue(frames(0, 3000), 1)
    now, played_until, sent = start, start, 0
    batches: list[int] = []
    while playout.queued_frames:
        media, _ = release(playout, now)
        batches.append(len(media))
        played_until = max(played_until, now) + len(media) * FRAME_S
        sent += len(media)
        assert played_until - now <= 0.24 + EPS
        deadline = playout.next_deadline()
        if deadline is None:
            break
        assert deadline > now
        now = deadline
    assert sent == 3000
    assert batches[0] == 12
    assert set(batches[1:-1]) == {7}


def test_random_release_times_keep_order_and_the_lead() -> None:
    """Releases at random times (caller frames, late timers) keep FIFO and the lead."""
    rng = random.Random(7)
    playout = Playout(lead_low_s=0.10, lead_high_s=0.24)
    playout.enqueue(frames(0, 2000), 1)
    now, played_until = 100.0, 100.0
    released: list[str] = []
    marks: list[str] = []
    while playout.queued_frames:
        now += rng.choice([0.0, 0.001, 0.007, 0.02, 0.02, 0.05, 0.3])
        media, batch_marks = release(playout, now)
        played_until = max(played_until, now) + len(media) * FRAME_S
        assert played_until - now <= 0.24 + EPS
        if media:
            assert played_until - now >= 0.10  # a release tops up past lead_low
        released += media
        marks += batch_marks
    assert released == frames(0, 2000)
    assert marks == [f"0:{n}" for n in range(1, len(marks) + 1)]


# ------------------------------------------------------------ marks
def test_a_mark_of_the_current_generation_is_heard() -> None:
    playout = Playout()
    playout.enqueue(frames(0, 30), response_id=4)
    _, first = release(playout, 1.0)
    echo = playout.on_mark(first[0])
    assert echo is not None
    assert echo.heard
    assert echo.response_id == 4
    assert echo.played_s == pytest.approx(0.24)
    assert playout.heard_s == pytest.approx(0.24)
    assert playout.last_heard_response == 4


def test_an_unknown_or_repeated_mark_is_none() -> None:
    playout = Playout()
    playout.enqueue(frames(0, 3), 1)
    _, marks = release(playout, 1.0)
    assert playout.on_mark("9:99") is None
    assert playout.on_mark(marks[0]) is not None
    assert playout.on_mark(marks[0]) is None


def test_heard_never_goes_back() -> None:
    playout = Playout()
    playout.enqueue(frames(0, 30), 1)
    _, first = release(playout, 1.0)
    _, second = release(playout, 1.2)
    playout.on_mark(second[0])
    heard = playout.heard_s
    playout.on_mark(first[0])  # a late echo of an earlier mark
    assert playout.heard_s == heard


# ------------------------------------------------------------ interrupt
def test_interrupt_drops_the_interrupted_responses_and_keeps_later_ones() -> None:
    playout = Playout()
    playout.enqueue(frames(0, 20), response_id=3)
    playout.enqueue(frames(20, 5), response_id=5)
    release(playout, 1.0)  # 12 frames of response 3 at Twilio
    assert playout.interrupt(up_to_response=4, now=1.05) is True
    assert playout.frames_dropped == 8
    assert playout.queued_frames == 5
    media, _ = release(playout, 1.05)
    assert media == frames(20, 5)


def test_interrupt_moves_the_generation_so_cleared_marks_are_not_heard() -> None:
    playout = Playout()
    playout.enqueue(frames(0, 30), 3)
    _, old = release(playout, 1.0)
    assert playout.generation == 0
    playout.interrupt(3, 1.05)
    assert playout.generation == 1
    echo = playout.on_mark(old[0])  # echoed by the clear: discarded, not played
    assert echo is not None
    assert not echo.heard
    assert playout.heard_s == 0.0
    assert playout.last_heard_response == 0

    playout.enqueue(frames(100, 5), 4)
    _, new = release(playout, 1.06)
    assert new == ["1:2"]
    echo = playout.on_mark(new[0])
    assert echo is not None
    assert echo.heard
    assert playout.heard_s == pytest.approx(0.10)
    assert playout.last_heard_response == 4


def test_interrupt_with_nothing_at_twilio_needs_no_clear() -> None:
    playout = Playout()
    assert playout.interrupt(1, 5.0) is False
    playout.enqueue(frames(0, 3), 1)
    _, marks = release(playout, 5.0)
    playout.on_mark(marks[0])
    assert playout.interrupt(1, 6.0) is False  # played and echoed long ago
    assert playout.interrupt(1, 6.0) is False


def test_renumber_lets_a_new_conversation_interrupt_old_frames() -> None:
    playout = Playout()
    playout.enqueue(frames(0, 5), response_id=17)
    playout.renumber(0)
    playout.interrupt(up_to_response=1, now=1.0)
    assert playout.queued_frames == 0
    assert playout.frames_dropped == 5


# ------------------------------------------------------------ drained
def test_drained_needs_an_empty_queue_and_every_mark_back() -> None:
    playout = Playout()
    assert playout.drained(0.0)
    playout.enqueue(frames(0, 19), 1)  # two batches: 12 + 7 frames
    assert not playout.drained(0.0)
    _, first = release(playout, 1.0)
    assert not playout.drained(1.0)
    deadline = playout.next_deadline()
    assert deadline is not None
    _, second = release(playout, deadline)
    assert playout.queued_frames == 0
    assert not playout.drained(deadline)  # sent, but not played yet
    playout.on_mark(first[0])
    assert not playout.drained(deadline)
    playout.on_mark(second[0])
    assert playout.drained(deadline)


def test_drained_by_the_clock_when_marks_never_come() -> None:
    playout = Playout()
    playout.enqueue(frames(0, 5), 1)
    release(playout, 1.0)  # plays until 1.10
    check = playout.next_drain_check()
    assert check == pytest.approx(2.10)
    assert not playout.drained(2.09)
    assert playout.drained(2.11)


def test_no_drain_check_while_frames_wait_or_with_no_mark_out() -> None:
    playout = Playout()
    assert playout.next_drain_check() is None
    playout.enqueue(frames(0, 50), 1)
    assert playout.next_drain_check() is None
    release(playout, 1.0)
    assert playout.next_drain_check() is None  # frames still queued here
