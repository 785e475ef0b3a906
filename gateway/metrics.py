"""Prometheus metrics of one gateway process.

Per-frame counts are plain integers on each call's bridge, summed when Prometheus
scrapes (a collector), so the media path pays nothing for them. Latency is observed
on a sample of frames for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5)


class _FrameCollector(Collector):
    def __init__(self, totals: Callable[[], dict[str, int]]) -> None:
        self._totals = totals

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "parley_frames_relayed", "Audio frames relayed", labels=["direction"]
        )
        for direction, value in self._totals().items():
            family.add_metric([direction], value)
        yield family


class GatewayMetrics:
    def __init__(self, frame_totals: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.active_calls = Gauge(
            "parley_active_calls", "Calls with a live media stream", registry=r
        )
        self.added_latency = Histogram(
            "parley_added_latency_seconds",
            "Time a frame spends inside the gateway (sampled)",
            ["direction"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.agent_connect = Histogram(
            "parley_agent_connect_seconds",
            "Signed URL + socket + handshake time of agent sessions",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
            registry=r,
        )
        self.agent_reconnects = Counter(
            "parley_agent_reconnects", "Agent sockets reopened mid-call", registry=r
        )
        self.tool_latency = Histogram(
            "parley_tool_latency_seconds",
            "Client tool call to result",
            ["tool"],
            buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5),
            registry=r,
        )
        self.calls = Counter("parley_calls", "Calls ended, by outcome", ["outcome"], registry=r)
        self.protocol_errors = Counter(
            "parley_protocol_errors", "Malformed or unexpected peer messages", ["peer"], registry=r
        )
        self.refused = Counter(
            "parley_requests_refused", "Requests refused (signature, token)", ["route"], registry=r
        )
        self.prewarm_elsewhere = Counter(
            "parley_prewarm_elsewhere",
            "Streams whose prewarmed agent session was on another process (closed there)",
            registry=r,
        )
        r.register(_FrameCollector(frame_totals))
