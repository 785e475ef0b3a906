"""The report's side-by-side table: the same calls run several ways, one column each.

One process against several (``--processes``), with supervisors watching
(``--supervisors``), and the bare relay in the gateway's place (``--baseline``): the
columns share their rows, so a reader sees at a glance what each change did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bin.bench_merge import frame_faults


def _p99(figures: dict[str, Any], key: str) -> float:
    return float(figures[key]["latency_ms"]["p99"])


def _ms(value: float) -> str:
    return f"{value:.2f} ms"


Cell = Callable[[dict[str, Any]], str]

#: The side-by-side rows: a label, and how one run's figures give its cell.
ROWS: tuple[tuple[str, Cell], ...] = (
    ("added latency caller->agent p99", lambda f: _ms(_p99(f, "caller_to_agent"))),
    ("added latency agent->caller p99", lambda f: _ms(_p99(f, "agent_to_caller"))),
    (
        "added latency p50 (both ways)",
        lambda f: (
            f"{f['caller_to_agent']['latency_ms']['p50']:.2f}"
            f"/{f['agent_to_caller']['latency_ms']['p50']:.2f}"
        ),
    ),
    ("start -> 1st agent frame p99", lambda f: _ms(f["start_to_first_agent_frame_ms"]["p99"])),
    ("interruption -> clear p99", lambda f: _ms(f["interruption_to_clear_ms"]["p99"])),
    (
        "frames dropped/reordered",
        lambda f: str(frame_faults(f["caller_to_agent"]) + frame_faults(f["agent_to_caller"])),
    ),
    ("calls completed", lambda f: f"{f['calls']['completed']}/{f['calls']['placed']}"),
    (
        "gateway CPU per call-second",
        lambda f: f"{f['gateway']['cpu_ms_per_call_second']:.2f} ms",
    ),
    ("gateway memory per call", lambda f: f"{f['gateway']['memory_per_call_kb']:.0f} KB"),
    (
        "host steal (gateway's CPU)",
        lambda f: f"{f['load']['gateway_cpu_steal_percent']:.1f}%",
    ),
    (
        "whole machine CPU (others)",
        lambda f: (
            f"{f['load']['machine_cpu_percent']:.0f}%"
            f" ({f['load']['other_processes_cpu_percent']:.0f}%)"
        ),
    ),
)


def side_by_side(report: dict[str, Any]) -> list[str]:
    """The closing note of ``--processes`` / ``--supervisors`` / ``--baseline``: the runs
    in columns."""
    main, single, fanout = report["main"], report.get("single"), report.get("fanout")
    baseline = report.get("baseline")
    if single is None and fanout is None and baseline is None:
        return []
    processes = main["run"].get("processes", 1)
    columns: list[tuple[str, dict[str, Any]]] = []
    if single is not None:
        columns.append(("1 process", single))
    columns.append(("parley" if processes == 1 else f"{processes} processes", main))
    if fanout is not None:
        columns.append((f"+{fanout['run']['supervisors']} supervisors", fanout))
    if baseline is not None:
        columns.append(("bare relay", baseline))

    def row(label: str, values: list[str]) -> str:
        return f"  {label:<36}" + "".join(f"{v:>18}" for v in values)

    lines = ["", row("side by side", [name for name, _ in columns])]
    for label, cell in ROWS:
        lines.append(row(label, [cell(f) for _, f in columns]))
    if baseline is not None:
        lines.append(
            "  (bare relay: the same calls through bench_bare_relay in the gateway's place,"
            " just after: no signature, registry, recording, pacing, marks, barge-in"
            " dropping, tools or hub; what this host gives a relay that only moves frames)"
        )
    if fanout is not None and fanout.get("live"):
        live = fanout["live"]
        added = [
            _p99(fanout, key) - _p99(main, key) for key in ("caller_to_agent", "agent_to_caller")
        ]
        lines += [
            f"  live fan-out: {live['supervisors']} supervisors each received"
            f" {live['events_per_supervisor_min']}..{live['events_per_supervisor_max']} events,"
            f" {live['out_of_order']} out of order, delivery p50"
            f" {live['delivery_ms']['p50']:.1f} ms / p99 {live['delivery_ms']['p99']:.1f} ms"
            f" (publish to supervisor);",
            f"  added p99 with them watching: caller->agent {added[0]:+.2f} ms,"
            f" agent->caller {added[1]:+.2f} ms"
            + (
                f"; live peer {fanout['load']['live_peer_cpu_percent']:.0f} % of one core"
                if fanout["load"].get("live_peer_cpu_percent")
                else ""
            ),
        ]
    return lines
