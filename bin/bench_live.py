"""The bench's supervisors: N ``WS /live`` sockets watching every call of the organization.

Run in a process of their own (see ``bench_proc.Peer``), spread round-robin over the
gateway processes, so that live fan-out costs what it costs in production: every
event of every call goes to every supervisor, through Redis when there are several
gateways. Each supervisor counts what it received and how late: from the event's
``ts`` (set where it was published) to its arrival here, on one machine's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bin.bench_proc import run_child


@dataclass(frozen=True)
class Watch:
    """Open ``count`` supervisor sockets over ``gateway_urls``; reply once all are open."""

    gateway_urls: tuple[str, ...]
    api_key: str
    count: int


@dataclass(frozen=True)
class Report:
    """Close the sockets and reply with what they saw."""


@dataclass
class _Supervisor:
    ws: ClientConnection
    events: int = 0
    degraded: int = 0
    gaps: int = 0
    delays_ms: list[float] = field(default_factory=list)


class LivePeer:
    def __init__(self) -> None:
        self.supervisors: list[_Supervisor] = []
        self.readers: list[asyncio.Task[None]] = []

    async def __call__(self, command: Any) -> Any:
        if isinstance(command, Watch):
            return await self._watch(command)
        if isinstance(command, Report):
            return await self._report()
        raise ValueError(f"unknown command {command!r}")

    async def _watch(self, watch: Watch) -> int:
        for n in range(watch.count):
            base = watch.gateway_urls[n % len(watch.gateway_urls)]
            url = base.replace("http://", "ws://") + f"/live?api_key={watch.api_key}"
            ws = await connect(url, compression=None, ping_interval=None, max_size=2**20)
            sup = _Supervisor(ws)
            self.supervisors.append(sup)
            self.readers.append(asyncio.create_task(self._read(sup)))
        return len(self.supervisors)

    async def _read(self, sup: _Supervisor) -> None:
        last_seq: dict[str, int] = {}
        try:
            async for raw in sup.ws:
                now = time.time()
                event = orjson.loads(raw)
                sup.events += 1
                if event["type"] == "live.degraded":
                    sup.degraded += 1
                sup.delays_ms.append((now - float(event["ts"])) * 1000)
                seq = int(event.get("seq", 0))
                call = str(event.get("call_sid", ""))
                if seq and call in last_seq and seq <= last_seq[call]:
                    sup.gaps += 1  # out of order for its call
                if seq:
                    last_seq[call] = seq
        except ConnectionClosed:
            pass

    async def _report(self) -> dict[str, Any]:
        await asyncio.sleep(0.5)  # the last events of the last calls
        for sup in self.supervisors:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sup.ws.close(), 2)
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        delays = sorted(d for s in self.supervisors for d in s.delays_ms)
        counts = [s.events for s in self.supervisors]

        def pct(p: float) -> float:
            return round(delays[min(len(delays) - 1, int(p * len(delays)))], 3) if delays else 0.0

        report = {
            "supervisors": len(self.supervisors),
            "events_per_supervisor_min": min(counts, default=0),
            "events_per_supervisor_max": max(counts, default=0),
            "out_of_order": sum(s.gaps for s in self.supervisors),
            "degraded_notices": sum(s.degraded for s in self.supervisors),
            "delivery_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0) if delays else 0.0},
        }
        self.supervisors, self.readers = [], []
        return report

    async def aclose(self) -> None:
        for sup in self.supervisors:
            with contextlib.suppress(Exception):
                await sup.ws.close()


async def _start() -> LivePeer:
    return LivePeer()


def main(conn: Connection, lifetime_s: float) -> None:
    """Process entry point (see ``bench_proc.Peer``)."""
    run_child(conn, functools.partial(_start), lifetime_s)
