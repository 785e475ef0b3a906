"""The benchmark's targets, and its report as a compact table.

Targets (the issue's, for this 2-core machine): at 100 concurrent pass-through calls,
p99 added latency under 5 ms each way with nothing dropped or reordered;
``interruption`` to ``clear`` p99 under 2 ms; ``start`` to the first agent frame under
50 ms with prewarm; one gateway process holding at least 250 calls with p99 under
20 ms and nothing dropped; and a client tool call answered (received -> result sent,
SQLite) with p99 under 20 ms.
"""

from __future__ import annotations

from typing import Any

from bin.bench_columns import side_by_side
from bin.bench_merge import frame_faults

LATENCY_P99_MS = 5.0
CLEAR_P99_MS = 2.0
FIRST_FRAME_MS = 50.0
MAX_CALLS_TARGET = 250
TOOL_P99_MS = 20.0
LOAD_BUSY_PERCENT = 85.0
TICK_LATE_MS = 5.0
OTHERS_BUSY_PERCENT = 25.0  # CPU of processes that are not the benchmark's, in % of one core
# Steal (the host running other guests) on the gateway's or the peers' CPUs, in % of
# the window: above this, the latency tail says more about the host than the gateway.
STEAL_BUSY_PERCENT = 5.0
READ_LABEL = "same, until the stand-in read it"  # the row under each latency figure


def peer_lateness_ms(figures: dict[str, Any]) -> float:
    """p99 lateness of the worse of the two bench peers' tickers."""
    late = figures["peer_tick_lateness_ms"]
    return float(max(late["twilio"]["p99"], late["agent"]["p99"]))


def host_steal_percent(figures: dict[str, Any]) -> float:
    """Steal on the worse of the gateway's and the peers' CPUs (see ``bench_cpu``)."""
    load = figures["load"]
    return float(max(load["gateway_cpu_steal_percent"], load["peer_cpu_steal_percent"]))


def machine_busy(figures: dict[str, Any]) -> bool:
    """Whether something outside the benchmark took CPU: other processes, or the host."""
    others = figures["load"]["other_processes_cpu_percent"]
    return bool(others > OTHERS_BUSY_PERCENT or host_steal_percent(figures) > STEAL_BUSY_PERCENT)


def load_limited(figures: dict[str, Any]) -> bool:
    """Whether the bench peers (not the gateway) may have been the limit of this run.

    Either their CPUs were nearly full, or their own clocks ran late by about as much
    as the latency they measured. (Late ticks alone are not enough: after a stall the
    gateway delivers a burst, which delays the peers' next ticks too.)
    """
    load, run = figures["load"], figures["run"]
    peer_cpus = run["peer_cpus"]
    budget = 100.0 * (len(peer_cpus) if isinstance(peer_cpus, list) else run["cpus"])
    busy = load["twilio_peer_cpu_percent"] + load["agent_peer_cpu_percent"]
    if not isinstance(peer_cpus, list):
        busy += figures["gateway"]["cpu_percent"] + load["other_processes_cpu_percent"]
    late = peer_lateness_ms(figures)
    measured = max(
        figures["caller_to_agent"]["latency_ms"]["p99"],
        figures["agent_to_caller"]["latency_ms"]["p99"],
    )
    return bool(
        busy >= LOAD_BUSY_PERCENT / 100 * budget or (late > TICK_LATE_MS and late >= measured / 2)
    )


def step_summary(figures: dict[str, Any], ok: bool) -> dict[str, Any]:
    c2a, a2c = figures["caller_to_agent"], figures["agent_to_caller"]
    return {
        "calls": figures["run"]["calls"],
        "completed": figures["calls"]["completed"],
        "caller_to_agent_p99_ms": c2a["latency_ms"]["p99"],
        "agent_to_caller_p99_ms": a2c["latency_ms"]["p99"],
        "max_ms": max(c2a["latency_ms"]["max"], a2c["latency_ms"]["max"]),
        "read_p99_ms": max(c2a["read_latency_ms"]["p99"], a2c["read_latency_ms"]["p99"]),
        "frame_faults": frame_faults(c2a) + frame_faults(a2c),
        "gateway_cpu_percent": figures["gateway"]["cpu_percent"],
        "peers_cpu_percent": round(
            figures["load"]["twilio_peer_cpu_percent"] + figures["load"]["agent_peer_cpu_percent"],
            1,
        ),
        "peer_tick_late_p99_ms": peer_lateness_ms(figures),
        "machine_cpu_percent": figures["load"]["machine_cpu_percent"],
        "other_cpu_percent": figures["load"]["other_processes_cpu_percent"],
        "steal_percent": host_steal_percent(figures),
        "load_limited": load_limited(figures),
        "machine_busy": machine_busy(figures),
        "pass": ok,
    }


def _target(name: str, figure: Any, limit: str, ok: bool | None) -> dict[str, Any]:
    return {"name": name, "figure": figure, "limit": limit, "pass": ok}


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    main = report["main"]
    n = main["run"]["calls"]
    c2a, a2c = main["caller_to_agent"], main["agent_to_caller"]
    clear = main["interruption_to_clear_ms"]
    first = main["start_to_first_agent_frame_ms"]
    faults = frame_faults(c2a) + frame_faults(a2c)
    out = [
        _target(
            f"caller->agent added latency p99 ({n} calls)",
            c2a["latency_ms"]["p99"],
            f"< {LATENCY_P99_MS:g} ms",
            c2a["latency_ms"]["n"] > 0 and c2a["latency_ms"]["p99"] < LATENCY_P99_MS,
        ),
        _target(
            f"agent->caller added latency p99 ({n} calls)",
            a2c["latency_ms"]["p99"],
            f"< {LATENCY_P99_MS:g} ms",
            a2c["latency_ms"]["n"] > 0 and a2c["latency_ms"]["p99"] < LATENCY_P99_MS,
        ),
        _target(
            f"frames dropped/reordered/duplicated/misrouted ({n} calls)",
            faults,
            "= 0",
            faults == 0 and c2a["frames_received"] > 0 and a2c["frames_received"] > 0,
        ),
        _target(
            "interruption -> clear p99",
            clear["p99"],
            f"< {CLEAR_P99_MS:g} ms",
            clear["n"] > 0 and clear["unmatched"] == 0 and clear["p99"] < CLEAR_P99_MS,
        ),
        _target(
            "start -> first agent frame p99, prewarm",
            first["p99"],
            f"< {FIRST_FRAME_MS:g} ms",
            first["n"] > 0 and first["p99"] < FIRST_FRAME_MS,
        ),
    ]
    tools = report.get("tools")
    if tools is not None:
        trip = tools["tool_round_trip_ms"]
        out.append(
            _target(
                f"tool round trip p99 ({tools['run']['calls']} calls)",
                trip["p99"],
                f"< {TOOL_P99_MS:g} ms",
                trip["n"] > 0 and trip["errors"] == 0 and trip["p99"] < TOOL_P99_MS,
            )
        )
    search = report.get("find_max")
    if search is not None:
        best = search["max_calls"]
        out.append(
            _target(
                "max calls per gateway (p99 < 20 ms, nothing dropped)",
                best,
                f">= {MAX_CALLS_TARGET}",
                best is not None and best >= MAX_CALLS_TARGET,
            )
        )
    return out


# ------------------------------------------------------------------ rendering
def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "FAIL")


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def _dist_row(label: str, dist: dict[str, Any], target: dict[str, Any] | None = None) -> str:
    cells = f"{_ms(dist['p50']):>10} {_ms(dist['p99']):>10} {_ms(dist['max']):>10} {dist['n']:>8}"
    tail = ""
    if target is not None:
        tail = f"   {target['limit']:<9} {_verdict(target['pass'])}"
    return f"  {label:<42}{cells}{tail}"


def _frames_row(label: str, d: dict[str, Any]) -> str:
    return (
        f"  {label:<16}{d['frames_sent']:>10} {d['frames_received']:>10} {d['dropped']:>8}"
        f" {d['reordered']:>9} {d['duplicates'] + d['misrouted'] + d['untagged']:>7}"
        f" {d['dropped_by_barge_in']:>9}"
    )


def render(report: dict[str, Any]) -> str:
    main = report["main"]
    run, gw, load = main["run"], main["gateway"], main["load"]
    by_name = {t["name"].split(" (")[0]: t for t in report["targets"]}
    pin = (
        f"gateway on CPU {run['gateway_cpus']}, bench peers on CPU {run['peer_cpus']}"
        if isinstance(run["gateway_cpus"], list)
        else "processes not pinned"
    )
    lines = [
        f"parley bench: {run['calls']} concurrent inbound calls x {run['seconds']:g} s through"
        + (
            " one gateway process"
            if run.get("processes", 1) == 1
            else f" {run['processes']} gateway processes (Redis, PostgreSQL)"
        )
        + ", ulaw_8000 pass-through, prewarm on",
        f"  {run['cpus']} CPUs; {pin}; steady window {run['window_s']:.1f} s"
        f" (calls placed over {run['ramp_s']:.2f} s)",
        f"  calls: {main['calls']['completed']}/{main['calls']['placed']} completed,"
        f" {main['calls']['failed']} failed, {main['calls']['agent_first']} agent-first sessions",
        "",
        f"  {'':<42}{'p50':>10} {'p99':>10} {'max':>10} {'samples':>8}   target",
        _dist_row(
            "added latency caller->agent",
            main["caller_to_agent"]["latency_ms"],
            by_name["caller->agent added latency p99"],
        ),
        _dist_row(f"  {READ_LABEL}", main["caller_to_agent"]["read_latency_ms"]),
        _dist_row(
            "added latency agent->caller",
            main["agent_to_caller"]["latency_ms"],
            by_name["agent->caller added latency p99"],
        ),
        _dist_row(f"  {READ_LABEL}", main["agent_to_caller"]["read_latency_ms"]),
        _dist_row(
            "interruption -> clear",
            main["interruption_to_clear_ms"],
            by_name["interruption -> clear p99"],
        ),
        _dist_row(f"  {READ_LABEL}", main["interruption_to_clear_read_ms"]),
        _dist_row(
            f"start -> 1st agent frame, prewarm ({run['calls']})",
            main["start_to_first_agent_frame_ms"],
            by_name["start -> first agent frame p99, prewarm"],
        ),
    ]
    other = report.get("no_prewarm")
    if other is not None:
        lines.append(
            _dist_row(
                f"start -> 1st agent frame, no prewarm ({other['run']['calls']})",
                other["start_to_first_agent_frame_ms"],
            )
        )
    tools = report.get("tools")
    if tools is not None:
        trip = tools["tool_round_trip_ms"]
        lines.append(
            _dist_row(
                f"tool call -> result, SQLite ({tools['run']['calls']} calls)",
                trip,
                by_name["tool round trip p99"],
            )
        )
        cold = tools.get("warmup_tool_round_trip_ms")
        if cold and cold["n"]:
            lines.append(_dist_row("  each tool's first calls after start", cold))
        if trip["errors"]:
            lines.append(f"  tool errors: {trip['errors']} ({'; '.join(trip['error_samples'])})")
    clear = main["interruption_to_clear_ms"]
    lines += [
        _dist_row("agent ping -> pong round trip", main["ping_rtt_ms"]),
        f"  (latency: stand-in send to arrival at the other stand-in's socket, the kernel's"
        f" stamp; '{READ_LABEL}': to the moment the stand-in's code read it, its own"
        " wake-up included; first second of each call untimed;"
        f" {clear['interruptions']} interruptions, {clear['clears']} clears,"
        f" {clear['unmatched']} unmatched)",
        "",
        f"  {'frames':<16}{'sent':>10} {'received':>10} {'dropped':>8} {'reordered':>9}"
        f" {'dup/bad':>7} {'barge-in':>9}",
        _frames_row("caller->agent", main["caller_to_agent"]),
        _frames_row("agent->caller", main["agent_to_caller"]),
        f"  {'':<16}target: nothing dropped or reordered"
        f"{'':<18}{_verdict(by_name['frames dropped/reordered/duplicated/misrouted']['pass'])}",
        f"  ('barge-in': agent frames of interrupted responses, dropped by design, not a fault;"
        f" marks {main['marks']['received']} received, {main['marks']['echoed']} echoed)",
        "",
        f"  gateway CPU      {gw['cpu_ms_per_call_second']:.2f} ms per call-second"
        f" ({gw['cpu_percent']:.0f} % of one core)",
        f"  gateway memory   {gw['memory_per_call_kb']:.0f} KB per call"
        f" (RSS {gw['rss_before_mb']:.0f} MB before the calls, {gw['rss_steady_mb']:.0f} MB"
        f" in steady state), growing {gw['memory_growth_kb_per_call_second']:.1f} KB"
        " per call-second",
        f"  bench peers CPU  Twilio side {load['twilio_peer_cpu_percent']:.0f} %,"
        f" agent side {load['agent_peer_cpu_percent']:.0f} % of one core; whole machine"
        f" {load['machine_cpu_percent']:.0f} % of {100 * run['cpus']} %"
        f" (other processes {load['other_processes_cpu_percent']:.0f} %); peer tick lateness p99"
        f" {main['peer_tick_lateness_ms']['twilio']['p99']:.1f} /"
        f" {main['peer_tick_lateness_ms']['agent']['p99']:.1f} ms"
        + ("  <- the load may have limited this run" if load_limited(main) else ""),
        f"  host steal       {load['gateway_cpu_steal_percent']:.1f} % of the time on the"
        f" gateway's CPU, {load['peer_cpu_steal_percent']:.1f} % on the peers'"
        " (the host running other guests while these CPUs had work)"
        + (
            "  <- latency tails follow it: run again on a quieter host"
            if host_steal_percent(main) > STEAL_BUSY_PERCENT
            else ""
        ),
    ]
    sessions = main["calls"]
    if sessions["agent_sessions_left_open"]:
        lines.append(
            f"  note: the gateway left {sessions['agent_sessions_left_open']} of"
            f" {sessions['agent_sessions']} agent conversations open after their calls ended"
            " (the agent peer closed them)"
        )
    if sessions["errors"]:
        lines.append("  call errors: " + "; ".join(sessions["errors"]))
    lines += side_by_side(report)
    search = report.get("find_max")
    if search is not None:
        target = by_name["max calls per gateway"]
        lines += find_max_table(
            search,
            "largest number of calls one gateway holds",
            f"   target {target['limit']}  {_verdict(target['pass'])}",
        )
    baseline = report.get("baseline_find_max")
    if baseline is not None:
        lines += find_max_table(
            baseline,
            "largest number of calls the bare relay holds",
            " (same host, its steps run in turn with the gateway's; no target:"
            " it shows the host's ceiling)",
            title="bare relay find-max",
        )
    return "\n".join(lines)


def find_max_table(
    search: dict[str, Any], result: str, verdict: str, *, title: str = "find-max"
) -> list[str]:
    """The find-max steps, one row each, and the largest number of calls that passed."""
    lines = ["", f"  {title} ({search['seconds']:g} s calls; pass = {search['criterion']})"]
    lines.append(
        f"  {'calls':>7} {'c->a p99':>10} {'a->c p99':>10} {'max':>10} {'read p99':>10}"
        f" {'faults':>7}"
        f" {'gw CPU':>7} {'peers':>7} {'peer late':>10} {'others':>7} {'steal':>6}"
    )
    for step in search["steps"]:
        lines.append(
            f"  {step['calls']:>7} {_ms(step['caller_to_agent_p99_ms']):>10}"
            f" {_ms(step['agent_to_caller_p99_ms']):>10} {_ms(step['max_ms']):>10}"
            f" {_ms(step['read_p99_ms']):>10}"
            f" {step['frame_faults']:>7} {step['gateway_cpu_percent']:>6.0f}%"
            f" {step['peers_cpu_percent']:>6.0f}% {_ms(step['peer_tick_late_p99_ms']):>10}"
            f" {step['other_cpu_percent']:>6.0f}% {step['steal_percent']:>5.1f}%"
            f"  {_verdict(step['pass'])}"
            + ("  (load-limited?)" if step["load_limited"] else "")
            + ("  (machine busy)" if step["machine_busy"] else "")
        )
    best = search["max_calls"]
    shown = "none" if best is None else f"{best} calls"
    lines.append(f"  {result}: {shown}{verdict}")
    return lines
