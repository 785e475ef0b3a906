"""CPU used between two instants: by the benchmark's processes, and by everything else.

Per-process figures come from each process's own counters (``psutil``), which are
exact. The machine-wide counters of ``/proc/stat`` are sampled at timer ticks and can
miss most of a bursty load (seen here: a third of it), so the CPU of *other*
processes is measured per process too: every process alive at both ends of the window
(same pid and start time) counts with its difference, a process started during the
window with all its CPU. Processes that came and went inside the window are only seen
by the machine-wide counters, so the larger of the two estimates is kept.

In a virtual machine the host may also run other guests on the physical CPU while
one of ours had work: that time is *steal* (``/proc/stat``, counted by the
hypervisor's steal clock), invisible in every per-process figure, yet it stalls
whatever was about to run, so latency tails follow it (seen here: a gateway CPU with
7.6 % steal gave a 6.4 ms p99 at 100 calls, the same code at 2.4 % gave 3.6 ms).
It is measured per CPU, so a report can name the gateway's CPU and the peers'.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import psutil


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _others(exclude: set[int]) -> dict[tuple[int, float], float]:
    """CPU seconds so far of every process not in ``exclude``, by (pid, start time)."""
    seen: dict[tuple[int, float], float] = {}
    for proc in psutil.process_iter(["pid", "create_time", "cpu_times"]):
        info: dict[str, Any] = proc.info
        times = info.get("cpu_times")
        if info["pid"] in exclude or times is None:
            continue
        seen[(info["pid"], info["create_time"])] = float(times.user + times.system)
    return seen


def _machine_busy_s() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.system + t.nice + t.softirq + t.irq)


def _steal_by_cpu() -> list[float]:
    """Seconds of steal so far, per CPU (0 on bare metal, or where it is not counted)."""
    return [float(getattr(t, "steal", 0.0)) for t in psutil.cpu_times(percpu=True)]


class CpuWindow:
    def __init__(self, processes: dict[str, psutil.Process]) -> None:
        self.processes = processes
        self._exclude = {p.pid for p in processes.values()} | {psutil.Process().pid}
        self.cpu0: dict[str, float] = {}
        self.cpu1: dict[str, float] = {}
        self.t0 = self.t1 = 0.0
        self._others0: dict[tuple[int, float], float] = {}
        self._machine0 = 0.0
        self.others_percent = 0.0
        self._steal0: list[float] = []
        self._steal1: list[float] = []

    def begin(self) -> None:
        self._others0 = _others(self._exclude)
        self._steal0 = _steal_by_cpu()
        self._machine0 = _machine_busy_s()
        self.t0 = time.monotonic()
        self.cpu0 = {name: cpu_seconds(p) for name, p in self.processes.items()}

    def end(self) -> None:
        self.cpu1 = {name: cpu_seconds(p) for name, p in self.processes.items()}
        self.t1 = time.monotonic()
        self._steal1 = _steal_by_cpu()
        machine = 100.0 * (_machine_busy_s() - self._machine0) / self.seconds
        others1 = _others(self._exclude)
        scanned = sum(cpu - self._others0.get(key, 0.0) for key, cpu in others1.items())
        by_process = 100.0 * max(0.0, scanned) / self.seconds
        by_machine = machine - sum(self.percent(name) for name in self.processes)
        self.others_percent = max(by_process, by_machine, 0.0)

    @property
    def seconds(self) -> float:
        return max(self.t1 - self.t0, 1e-9)

    def steal_percent(self, cpus: Iterable[int] | None = None) -> float:
        """Steal on ``cpus`` (all when None), in % of the window, averaged over them."""
        stolen = [b - a for a, b in zip(self._steal0, self._steal1, strict=True)]
        chosen = list(range(len(stolen))) if cpus is None else list(cpus)
        picked = [stolen[c] for c in chosen if 0 <= c < len(stolen)]
        if not picked:
            return 0.0
        return 100.0 * max(0.0, sum(picked)) / len(picked) / self.seconds

    def cpu(self, name: str) -> float:
        return self.cpu1[name] - self.cpu0[name]

    def percent(self, name: str) -> float:
        return 100.0 * self.cpu(name) / self.seconds

    @property
    def machine_percent(self) -> float:
        return sum(self.percent(name) for name in self.processes) + self.others_percent
