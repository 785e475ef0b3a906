"""``parley bench --baseline``: the same calls through the bare relay, side by side.

A tiny real run (3 calls x 3 s) through the CLI: the bare relay really carries the
calls in the gateway's place (every frame both ways, every interruption cleared, and
none of parley's marks), it is gone afterwards, and the report puts it beside parley.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import psutil
import pytest

from bin import bench, bench_bare_relay, bench_merge, bench_report
from bin.bench_stage import StageSpec
from tests.bin.bench_cli import bench_report_json


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return bench_report_json(
        *("--calls", "3", "--seconds", "3", "--baseline"),
        *("--tool-calls", "0", "--no-prewarm-compare"),
    )


def test_the_bare_relay_carries_every_frame_both_ways(report: dict[str, Any]) -> None:
    baseline = report["baseline"]
    assert baseline["run"]["relay"] == "bare"
    assert report["main"]["run"]["relay"] == "parley"
    assert baseline["calls"]["completed"] == baseline["calls"]["placed"] == 3
    for direction in ("caller_to_agent", "agent_to_caller"):
        figures = baseline[direction]
        assert figures["frames_sent"] > 0
        assert figures["frames_received"] == figures["frames_sent"]
        assert bench_merge.frame_faults(figures) == 0
        assert figures["latency_ms"]["n"] > 0
    clear = baseline["interruption_to_clear_ms"]
    assert clear["interruptions"] > 0 and clear["unmatched"] == 0


def test_it_is_the_bare_relay_not_parley(report: dict[str, Any]) -> None:
    """parley paces agent audio with marks; the bare relay sends none."""
    assert report["main"]["marks"]["received"] > 0
    assert report["baseline"]["marks"]["received"] == 0
    assert report["baseline"]["gateway"]["gone_after"]
    assert not psutil.pid_exists(report["baseline"]["gateway"]["pid"])


def test_the_report_puts_the_bare_relay_beside_parley(report: dict[str, Any]) -> None:
    text = bench_report.render(report)
    assert "side by side" in text
    header = next(line for line in text.splitlines() if "side by side" in line)
    assert "parley" in header and "bare relay" in header
    assert "host steal (gateway's CPU)" in text


def test_the_bare_relays_find_max_gets_its_own_table(report: dict[str, Any]) -> None:
    step = bench_report.step_summary(report["baseline"], ok=True)
    search = {"seconds": 3.0, "criterion": "p99 < 20 ms", "steps": [step], "max_calls": 3}
    text = bench_report.render({**report, "baseline_find_max": copy.deepcopy(search)})
    assert "bare relay find-max" in text
    assert "largest number of calls the bare relay holds: 3 calls" in text
    assert "bare relay find-max" not in bench_report.render(report)


def test_the_stream_url_follows_the_public_scheme() -> None:
    assert bench_bare_relay.stream_url("https://gw.example/") == "wss://gw.example/twilio/media"
    assert bench_bare_relay.stream_url("http://127.0.0.1:8080") == (
        "ws://127.0.0.1:8080/twilio/media"
    )


def test_find_max_takes_the_gateways_and_the_relays_steps_in_turn(
    report: dict[str, Any], tmp_path: Path
) -> None:
    """Each search goes its own way (up while it passes, down from a failed first
    step), but their steps alternate, and a failed step on a busy machine is run again."""
    holds = {"parley": 200, "bare": 100}
    ran: list[tuple[str, int, str]] = []

    def run(spec: StageSpec, workdir: Path) -> dict[str, Any]:
        ran.append((spec.relay, spec.calls, workdir.name))
        figures: dict[str, Any] = copy.deepcopy(report["main"])
        figures["run"]["calls"] = spec.calls
        figures["calls"].update(placed=spec.calls, completed=spec.calls, failed=0)
        p99 = 5.0 if spec.calls <= holds[spec.relay] else 50.0
        for direction in ("caller_to_agent", "agent_to_caller"):
            figures[direction]["latency_ms"]["p99"] = p99
        busy = spec.relay == "bare" and spec.calls == 150 and not workdir.name.endswith("again")
        # Busy only where this test says so: not the real run's steal or other load.
        figures["load"].update(
            other_processes_cpu_percent=90.0 if busy else 0.0,
            gateway_cpu_steal_percent=0.0,
            peer_cpu_steal_percent=0.0,
        )
        return figures

    found = bench.find_max(
        bench.BenchOptions(find_max=True, baseline=True), tmp_path, True, ("parley", "bare"), run
    )
    assert ran == [
        ("parley", 150, "find-max-parley-150"),
        ("bare", 150, "find-max-bare-150"),
        ("parley", 200, "find-max-parley-200"),
        ("bare", 150, "find-max-bare-150-again"),
        ("parley", 250, "find-max-parley-250"),
        ("bare", 100, "find-max-bare-100"),
    ]
    assert found["parley"]["max_calls"] == 200
    assert found["bare"]["max_calls"] == 100
    assert [step["pass"] for step in found["bare"]["steps"]] == [False, False, True]
