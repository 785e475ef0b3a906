"""Call control: an action reaches the process running the call's stream, wherever it is."""

from __future__ import annotations

from typing import Any

from gateway.call_control import CallControl
from gateway.calls import CallRecord
from gateway.standins.waiting import poll_until
from tests.gateway.backends import Backend, shared

__all__ = ["shared"]


class FakeRunner:
    """Records what the runner was asked to do (the runner itself is tested elsewhere)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Any]] = []

    def request_hang_up(self, reason: str) -> None:
        self.asked.append(("hang_up", reason))

    def answered_by(self, verdict: str) -> None:
        self.asked.append(("answered_by", verdict))

    def end_after_speech(self) -> None:
        self.asked.append(("end_after_speech", None))

    def transfer(self, number: str, brief: str) -> None:
        self.asked.append(("transfer", (number, brief)))


class FakePrewarm:
    def __init__(self) -> None:
        self.discarded: list[str] = []

    def discard(self, call_sid: str) -> None:
        self.discarded.append(call_sid)


def record(owner: str = "", prewarm_on: str = "") -> CallRecord:
    return CallRecord(
        call_ref="r1",
        org_id="o",
        account_id="a",
        direction="outbound",
        call_sid="CA1",
        owner=owner,
        prewarm_on=prewarm_on,
    )


def control(
    gateway_id: str, runners: dict[str, Any], prewarm: FakePrewarm, link: Any
) -> CallControl:
    ctl = CallControl(runners, prewarm, gateway_id, link)  # type: ignore[arg-type]
    ctl.start()
    return ctl


async def test_an_action_runs_on_the_local_runner_without_redis() -> None:
    runner = FakeRunner()
    ctl = control("gw-a", {"CA1": runner}, FakePrewarm(), None)
    assert await ctl.send(record("gw-a"), "hang_up", reason="operator_ended")
    assert runner.asked == [("hang_up", "operator_ended")]
    other = CallControl({}, FakePrewarm(), "gw-a", None)  # type: ignore[arg-type]
    assert not await other.send(record("gw-a"), "hang_up"), "no stream here: nothing to do"


async def test_an_action_reaches_the_owner_through_redis(shared: Backend) -> None:
    runner = FakeRunner()
    owner_prewarm, webhook_prewarm = FakePrewarm(), FakePrewarm()
    link_a, link_b = shared.process("gw-a"), shared.process("gw-b")
    owner = control("gw-a", {"CA1": runner}, owner_prewarm, link_a)
    elsewhere = control("gw-b", {}, webhook_prewarm, link_b)
    await poll_until(lambda: link_a.is_listening(owner.channel("gw-a")), 5)
    call = record(owner="gw-a", prewarm_on="gw-a")
    assert await elsewhere.send(call, "transfer", number="+15550001111", brief="Ann, promise")
    assert await elsewhere.send(call, "answered_by", verdict="machine_start")
    await poll_until(lambda: len(runner.asked) == 2, 5)
    assert runner.asked == [
        ("transfer", ("+15550001111", "Ann, promise")),
        ("answered_by", "machine_start"),
    ]
    await elsewhere.discard_prewarm(call)
    await poll_until(lambda: owner_prewarm.discarded == ["CA1"], 5)
    assert webhook_prewarm.discarded == []


async def test_an_action_for_a_process_that_is_gone_says_so(shared: Backend) -> None:
    ctl = control("gw-b", {}, FakePrewarm(), shared.process("gw-b"))
    assert not await ctl.send(record(owner="gw-dead"), "hang_up", reason="operator_ended")
