"""``parley bench --processes 2 --supervisors 2``: a tiny real run over two gateways.

Behaviour only, never timings: both gateway processes shared the calls through Redis
and PostgreSQL, the figures of all three runs are there side by side, the supervisors
saw every call's events in order, and nothing the bench started outlives it.
"""

from __future__ import annotations

from typing import Any

import psutil
import pytest

from bin import bench_merge, bench_report
from tests.bin.bench_cli import bench_report_json
from tests.system_tools import require_tool

# Three runs of gateways, Redis and PostgreSQL starting up, on a shared machine.
pytestmark = pytest.mark.timeout(480)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    require_tool("redis-server")
    require_tool("initdb")
    return bench_report_json(
        *("--calls", "4", "--seconds", "3", "--processes", "2", "--supervisors", "2"),
        *("--tool-calls", "0", "--no-prewarm-compare"),
    )


def test_two_processes_carry_every_call_and_lose_no_frame(report: dict[str, Any]) -> None:
    for stage in ("main", "single", "fanout"):
        run = report[stage]
        assert run["calls"]["completed"] == run["calls"]["placed"] == 4, stage
        for direction in ("caller_to_agent", "agent_to_caller"):
            assert run[direction]["frames_received"] > 0
            assert bench_merge.frame_faults(run[direction]) == 0, (stage, direction)
    assert report["main"]["run"]["processes"] == 2
    assert report["single"]["run"]["processes"] == 1
    assert len(report["main"]["gateway"]["pids"]) == 2


def test_every_supervisor_saw_every_call_in_order(report: dict[str, Any]) -> None:
    live = report["fanout"]["live"]
    assert live["supervisors"] == 2
    assert live["events_per_supervisor_min"] == live["events_per_supervisor_max"] > 4 * 3
    assert live["out_of_order"] == 0
    assert live["degraded_notices"] == 0


def test_the_closing_note_puts_the_runs_side_by_side(report: dict[str, Any]) -> None:
    text = bench_report.render(report)
    assert "2 gateway processes (Redis, PostgreSQL)" in text
    for label in ("side by side", "1 process", "2 processes", "+2 supervisors", "live fan-out"):
        assert label in text
    assert "added p99 with them watching" in text


def test_nothing_outlives_the_run(report: dict[str, Any]) -> None:
    for stage in ("main", "single", "fanout"):
        for pid in report[stage]["gateway"]["pids"]:
            assert not psutil.pid_exists(pid)
