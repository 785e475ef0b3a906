"""gateway.live_log: a late supervisor sees the call so far, and only their own calls."""

from gateway.hub import LiveEvent
from gateway.live_log import CallEventLog

CARD = {"call_ref": "r1", "debtor_name": "Ann Example", "number": "+15550100001"}


def event(kind: str, call_sid: str = "CA1", org: str = "org-a", **data: object) -> LiveEvent:
    return LiveEvent(org, call_sid, kind, dict(data), ts=100.0)


def test_history_is_the_calls_events_in_order() -> None:
    log = CallEventLog()
    log.add(event("call.created", **CARD))
    log.add(event("agent", text="Hello"))
    log.add(event("agent", call_sid="CA2", text="Other call"))
    log.add(event("caller", text="Yes"))
    assert [e.data.get("text") for e in log.history("org-a", "CA1")] == [None, "Hello", "Yes"]


def test_another_organization_gets_nothing_and_cannot_write_into_the_call() -> None:
    log = CallEventLog()
    log.add(event("call.created", **CARD))
    log.add(event("agent", org="org-b", text="injected"))
    assert log.history("org-b", "CA1") == []
    assert log.state("org-b", "CA1") == {}
    assert [e.type for e in log.history("org-a", "CA1")] == ["call.created"]


def test_state_follows_card_status_speaker_sentiment_and_end() -> None:
    log = CallEventLog()
    log.add(event("call.created", status="queued", **CARD))
    log.add(event("call.status", status="ringing"))
    log.add(event("call.status", status="amd", answered_by="human"))
    log.add(event("call.started", status="in-progress", **CARD))
    log.add(event("speaker", speaker="agent"))
    log.add(event("sentiment", sentiment="negative"))
    state = log.state("org-a", "CA1")
    assert state["status"] == "in-progress"
    assert (state["phase"], state["speaker"], state["sentiment"]) == ("live", "agent", "negative")
    assert state["debtor_name"] == "Ann Example"
    log.add(event("call.ended", reason="agent_ended", outcome="completed"))
    state = log.state("org-a", "CA1")
    assert (state["phase"], state["speaker"], state["end_reason"]) == ("ended", "", "agent_ended")


def test_events_per_call_and_ended_calls_are_bounded() -> None:
    log = CallEventLog(per_call=3, keep_ended=2)
    for i in range(5):
        log.add(event("agent", text=str(i)))
    assert [e.data["text"] for e in log.history("org-a", "CA1")] == ["2", "3", "4"]
    for n in range(1, 5):
        log.add(event("call.ended", call_sid=f"CA{n}"))
    assert len(log) == 2
    assert log.history("org-a", "CA1") == [] and log.history("org-a", "CA4") != []
