"""One benchmark run: agent peer, gateway and Twilio peer processes, N calls, figures.

Order: the agent peer starts (its port goes into the gateway's environment), then the
gateway, then the Twilio peer. A few warm-up calls go through first (imports, caches,
first connections), then the gateway's memory is read, then the N calls are placed,
one every few milliseconds. The *steady window* starts one second after the last call
was placed and ends shortly before the first call hangs up: CPU of every process and
the gateway's steady memory are read over it. Everything is stopped at the end, on
error and on Ctrl-C alike.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from bin import bench_agent, bench_live, bench_twilio
from bin.bench_cpu import CpuWindow
from bin.bench_gateway import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BENCH_KEY,
    GatewayError,
    GatewayProcess,
    Relay,
)
from bin.bench_merge import merge, summary_ms
from bin.bench_proc import Peer

SPACING_S = 0.005  # one new call every 5 ms ...
MAX_RAMP_S = 2.5  # ... or faster, so that placing them all takes at most this long
LEAD_S = 0.3
MB = 1024 * 1024


@dataclass(frozen=True)
class StageSpec:
    calls: int
    seconds: float
    prewarm: bool = True
    warmup_calls: int = 2
    warmup_seconds: float = 1.5
    interrupt_every_s: float = 3.0
    pin: bool = True  # the gateway gets a CPU of its own, the bench peers the others
    #: Each call makes a client tool call this often (None: none); the bench organization
    #: then gets one account per bench caller number, so every call is a matched debtor.
    tool_every_s: float | None = None
    #: Gateway processes behind one public URL; more than one needs ``shared``.
    processes: int = 1
    #: ``WS /live`` supervisors watching every call (spread over the processes).
    supervisors: int = 0
    #: ``PARLEY_*`` settings every gateway of the stage shares (Redis, PostgreSQL).
    shared: tuple[tuple[str, str], ...] = ()
    #: What carries the calls: parley's gateway, or the bare relay (``--baseline``).
    relay: Relay = "parley"


def gateway_cpu_plan(pin: bool, processes: int) -> tuple[list[list[int]], list[int]] | None:
    """(CPUs of each gateway, CPUs of the peers); None when there are too few to pin."""
    if processes == 1:
        plan = cpu_plan(pin)
        return None if plan is None else ([plan[0]], plan[1])
    if not pin or not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < processes + 1:
        return None
    return [[c] for c in cpus[-processes:]], cpus[:-processes]


def cpu_plan(pin: bool) -> tuple[list[int], list[int]] | None:
    """(gateway CPUs, peer CPUs) when pinning is asked for and possible, else None."""
    if not pin or not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return cpus[-1:], cpus[:-1]


def _pin(pid: int, cpus: list[int] | None) -> None:
    if cpus is not None:
        psutil.Process(pid).cpu_affinity(cpus)


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def seed_accounts(gateway_url: str, calls: int) -> None:
    """One account per bench caller number (document ending 1234), through the sync API."""
    accounts = [
        {
            "external_id": f"bench-{index}",
            "contact_name": f"Bench Debtor {index}",
            "total_amount": "100.00",
            "phone": bench_twilio.caller_number(index),
            "document": "12341234",
        }
        for index in range(min(calls, 100_000))
    ]
    response = httpx.post(
        f"{gateway_url}/api/accounts/sync",
        json=accounts,
        headers={"X-API-Key": BENCH_KEY},
        timeout=60,
    )
    if response.status_code != 200 or response.json().get("rejected_items"):
        raise GatewayError(f"could not seed the bench accounts: {response.text[:300]}")


def run_stage(spec: StageSpec, workdir: Path) -> dict[str, Any]:
    """Run one stage; returns its figures (see ``bench_merge``) plus process figures."""
    workdir.mkdir(parents=True, exist_ok=True)
    spacing = min(SPACING_S, MAX_RAMP_S / max(spec.calls, 1))
    ramp = spacing * spec.calls
    lifetime = 120.0 + spec.warmup_seconds + spec.seconds + ramp
    plan = gateway_cpu_plan(spec.pin, spec.processes)
    gateway_cpus, peer_cpus = plan if plan is not None else (None, None)
    agent = twilio = live = None
    warmup: bench_agent.AgentReport | None = None
    gateways: list[GatewayProcess] = []
    try:
        agent = Peer("bench-agent-peer", bench_agent.main, lifetime)
        _pin(agent.pid, peer_cpus)
        agent_port = agent.request(bench_agent.PortQuery(), 30)
        shared = dict(spec.shared)
        public_url: str | None = None
        for n in range(spec.processes):
            name = "gateway" if spec.processes == 1 else f"gateway-{n}"
            gateway = GatewayProcess(
                workdir,
                agent_port,
                prewarm=spec.prewarm,
                name=name,
                extra_env=shared,
                relay=spec.relay,
            )
            if spec.processes > 1:
                # Every process answers for one public URL (the balancer's); the Twilio
                # peer sends each call to one process, signed for that URL.
                public_url = public_url or gateway.url
                gateway.public_url = public_url
            gateways.append(gateway)
            gateway.start()  # one after the other: the first migrates the database
            _pin(gateway.pid, gateway_cpus[n] if gateway_cpus else None)
        first = gateways[0]
        targets = tuple(g.url for g in gateways) if spec.processes > 1 else ()
        config = bench_twilio.TwilioConfig(first.url, ACCOUNT_SID, AUTH_TOKEN, targets)
        if spec.tool_every_s:
            seed_accounts(first.url, spec.calls + spec.warmup_calls)
        twilio = Peer("bench-twilio-peer", bench_twilio.main, config, lifetime)
        _pin(twilio.pid, peer_cpus)
        nonce = secrets.randbits(64)

        if spec.warmup_calls:
            agent.request(
                bench_agent.Expect(spec.warmup_seconds, spec.interrupt_every_s, spec.tool_every_s),
                10,
            )
            run = bench_twilio.Run(
                spec.warmup_calls * spec.processes,
                spec.warmup_seconds,
                time.monotonic_ns() + int(LEAD_S * 1e9),
                int(spacing * 1e9),
                nonce ^ 1,
            )
            twilio.request(run, 60 + spec.warmup_seconds)
            warmup = agent.request(bench_agent.Collect(spec.warmup_calls * spec.processes, 1.5), 20)
            time.sleep(0.5)  # let the warm-up calls' recordings be written

        if spec.supervisors:
            live = Peer("bench-live-peer", bench_live.main, lifetime)
            _pin(live.pid, peer_cpus)
            urls = tuple(g.url for g in gateways)
            live.request(bench_live.Watch(urls, BENCH_KEY, spec.supervisors), 30)
            time.sleep(0.5)  # every process subscribed (in Redis too) before the calls

        gw_processes = {f"gateway-{n}": g.process() for n, g in enumerate(gateways)}
        rss_before = sum(p.memory_info().rss for p in gw_processes.values())
        agent.request(
            bench_agent.Expect(spec.seconds, spec.interrupt_every_s, spec.tool_every_s), 10
        )
        begin = time.monotonic() + LEAD_S
        twilio.send(
            bench_twilio.Run(spec.calls, spec.seconds, int(begin * 1e9), int(spacing * 1e9), nonce)
        )
        watched = {**gw_processes, "twilio": psutil.Process(twilio.pid)}
        watched["agent"] = psutil.Process(agent.pid)
        if live is not None:
            watched["live"] = psutil.Process(live.pid)
        window = CpuWindow(watched)
        w0, w1 = begin + ramp + 1.0, begin + spec.seconds - 0.3
        if w1 - w0 < 0.5:
            w0, w1 = begin + ramp, begin + spec.seconds

        def rss() -> int:
            return sum(p.memory_info().rss for p in gw_processes.values())

        _sleep_until(w0)
        window.begin()
        rss_early = rss()
        _sleep_until((w0 + w1) / 2)
        rss_steady = rss()
        _sleep_until(w1)
        window.end()
        rss_late = rss()

        wait = begin - time.monotonic() + ramp + spec.seconds + 60
        twilio_report = twilio.reply(wait)
        agent_report = agent.request(bench_agent.Collect(spec.calls, 1.5), 30)
        live_report = live.request(bench_live.Report(), 30) if live is not None else None
        gateway_alive = all(g.alive() for g in gateways)
        figures = merge(twilio_report, agent_report)
        if warmup is not None:
            # Each tool's first call in a fresh process (statements compiled, code
            # paths warmed), kept apart from the steady figures, and shown.
            figures["warmup_tool_round_trip_ms"] = summary_ms(
                [v for c in warmup.calls for v in c.tool_rtt_ns]
            )
    finally:
        for peer in (twilio, agent, live):
            if peer is not None:
                peer.stop()
        for gateway in gateways:
            gateway.stop()

    pids = [g.pid for g in gateways]
    call_seconds = spec.calls * window.seconds
    gateway_cpu = sum(window.cpu(name) for name in gw_processes)
    gateway_cpu_list = [c for cpus in gateway_cpus for c in cpus] if gateway_cpus else None
    figures["run"] = {
        "calls": spec.calls,
        "seconds": spec.seconds,
        "prewarm": spec.prewarm,
        "relay": spec.relay,
        "processes": spec.processes,
        "supervisors": spec.supervisors,
        "ramp_s": round(ramp, 3),
        "window_s": round(window.seconds, 3),
        "cpus": os.cpu_count() or 0,
        "gateway_cpus": gateway_cpu_list or "any",
        "peer_cpus": peer_cpus or "any",
    }
    figures["gateway"] = {
        "pid": pids[0],
        "pids": pids,
        "alive_until_the_end": gateway_alive,
        "gone_after": not any(psutil.pid_exists(pid) for pid in pids),
        "cpu_percent": round(sum(window.percent(name) for name in gw_processes), 1),
        "cpu_ms_per_call_second": round(1000 * gateway_cpu / max(call_seconds, 1e-9), 3),
        "rss_before_mb": round(rss_before / MB, 1),
        "rss_steady_mb": round(rss_steady / MB, 1),
        "memory_per_call_kb": round((rss_steady - rss_before) / 1024 / max(spec.calls, 1), 1),
        "memory_growth_kb_per_call_second": round(
            (rss_late - rss_early) / 1024 / max(call_seconds, 1e-9), 2
        ),
        "log_tail": "" if gateway_alive else "\n".join(g.log_tail() for g in gateways),
    }
    figures["load"] = {
        "twilio_peer_cpu_percent": round(window.percent("twilio"), 1),
        "agent_peer_cpu_percent": round(window.percent("agent"), 1),
        "live_peer_cpu_percent": round(window.percent("live"), 1) if live is not None else 0.0,
        "machine_cpu_percent": round(window.machine_percent, 1),
        "other_processes_cpu_percent": round(window.others_percent, 1),
        # The host running other guests while these CPUs had work (see bench_cpu).
        "gateway_cpu_steal_percent": round(window.steal_percent(gateway_cpu_list), 1),
        "peer_cpu_steal_percent": round(window.steal_percent(peer_cpus), 1),
    }
    figures["live"] = live_report
    return figures
