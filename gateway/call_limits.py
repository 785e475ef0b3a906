"""Per-organization call limits: calls in progress at once, and calls started per second.

A call takes a slot when it is placed (or when an inbound call's TwiML is asked for)
and gives it back when it ends, wherever it ends. The rate is a sliding window: a
limit of ``r`` calls per second allows ``max(1, floor(r))`` starts in any window of
``max(1, floor(r)) / r`` seconds (so 0.5 means one call in any 2 s).

Two backends behind one interface: this in-process one when ``PARLEY_REDIS_URL`` is
unset, and a Redis one (``gateway/call_limits_redis.py``) where one atomic script
checks and takes both limits for every process at once.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

CONCURRENCY = "concurrent_calls_limit"
RATE = "calls_per_second_limit"


@dataclass(frozen=True, slots=True)
class Limits:
    max_concurrent: int | None = None
    per_second: float | None = None

    @property
    def window(self) -> tuple[int, float] | None:
        """(starts allowed, window in seconds), or None without a rate limit."""
        if self.per_second is None:
            return None
        capacity = max(1, math.floor(self.per_second))
        return capacity, capacity / self.per_second


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call may not start now, in words an operator can act on."""

    reason: str
    message: str
    limit: float
    retry_after_s: float | None = None

    @property
    def status(self) -> int:
        return 429 if self.reason == RATE else 409

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "reason": self.reason, "limit": self.limit}
        if self.retry_after_s is not None:
            body["retry_after_s"] = round(self.retry_after_s, 3)
        return body


def limits_for(org_settings: dict[str, Any], defaults: Limits) -> Limits:
    """An organization's limits: its own settings, else the deployment's defaults."""
    own = org_settings.get("limits") or {}
    concurrent = own.get("max_concurrent_calls", defaults.max_concurrent)
    per_second = own.get("calls_per_second", defaults.per_second)
    return Limits(
        int(concurrent) if concurrent is not None else None,
        float(per_second) if per_second is not None else None,
    )


def concurrency_refusal(org_id: str, in_progress: int, limit: int) -> Refusal:
    return Refusal(
        CONCURRENCY,
        f"organization {org_id} already has {in_progress} calls in progress "
        f"(its limit is {limit} at once); retry when one ends",
        limit,
    )


def rate_refusal(org_id: str, per_second: float, retry_after_s: float) -> Refusal:
    return Refusal(
        RATE,
        f"organization {org_id} may start {per_second:g} calls per second; "
        f"retry in {max(retry_after_s, 0.001):.3f} s",
        per_second,
        max(retry_after_s, 0.001),
    )


class CallLimiter(Protocol):
    async def acquire(self, org_id: str, call_ref: str, limits: Limits) -> Refusal | None:
        """Take a slot for the call, or say why not (then nothing was taken).

        With the Redis backend the call's record must already be in the registry: a
        slot counts for as long as its call's record is active, so the slots of a
        process that died free themselves when its records expire.

        Raises:
            RedisUnavailable: the shared backend did not answer.
        """
        ...

    async def release(self, org_id: str, call_ref: str) -> None: ...


class InProcessLimiter:
    """The limits of one process (they hold across processes only with Redis)."""

    def __init__(self) -> None:
        self._slots: dict[str, set[str]] = {}
        self._starts: dict[str, deque[float]] = {}

    async def acquire(self, org_id: str, call_ref: str, limits: Limits) -> Refusal | None:
        now = time.monotonic()
        slots = self._slots.setdefault(org_id, set())
        limit = limits.max_concurrent
        if limit is not None and call_ref not in slots and len(slots) >= limit:
            return concurrency_refusal(org_id, len(slots), limit)
        window = limits.window
        if window is not None:
            capacity, span = window
            starts = self._starts.setdefault(org_id, deque())
            while starts and starts[0] <= now - span:
                starts.popleft()
            if len(starts) >= capacity:
                assert limits.per_second is not None
                return rate_refusal(org_id, limits.per_second, starts[0] + span - now)
            starts.append(now)
        slots.add(call_ref)  # counted even without a limit, for when one is set
        return None

    async def release(self, org_id: str, call_ref: str) -> None:
        slots = self._slots.get(org_id)
        if slots is not None:
            slots.discard(call_ref)

    def in_progress(self, org_id: str) -> int:
        return len(self._slots.get(org_id, ()))
