"""Per-organization call limits, on both backends (in-process, and Redis across processes)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.call_limits import CONCURRENCY, RATE, CallLimiter, Limits, limits_for
from gateway.calls import CallRecord, CallRegistry
from tests.gateway.backends import Backend, backend, shared

__all__ = ["backend", "shared"]


async def call(registry: CallRegistry, ref: str, org: str = "org_a") -> CallRecord:
    """A call in the registry (the Redis limiter counts a slot while its call is active)."""
    record = CallRecord(call_ref=ref, org_id=org, account_id="acc", direction="outbound")
    await registry.add(record)
    return record


def two_processes(backend: Backend) -> tuple[CallLimiter, CallLimiter, CallRegistry]:
    registry = backend.registry("gw-a")
    if not backend.shared:
        limiter = backend.limiter()
        return limiter, limiter, registry
    return backend.limiter("gw-a"), backend.limiter("gw-b"), registry


async def test_concurrent_calls_are_capped_across_processes(backend: Backend) -> None:
    a, b, registry = two_processes(backend)
    limits = Limits(max_concurrent=2)
    for ref in ("c1", "c2", "c3"):
        await call(registry, ref)
    assert await a.acquire("org_a", "c1", limits) is None
    assert await b.acquire("org_a", "c2", limits) is None
    refusal = await a.acquire("org_a", "c3", limits)
    assert refusal is not None and refusal.reason == CONCURRENCY and refusal.status == 409
    assert "2 calls in progress" in refusal.message and "limit is 2" in refusal.message
    assert await b.acquire("org_b", "c3", limits) is None, "another organization is not held"
    await b.release("org_a", "c1")  # a call ends on whichever process
    assert await a.acquire("org_a", "c3", limits) is None


async def test_taking_the_same_call_twice_counts_it_once(backend: Backend) -> None:
    a, _, registry = two_processes(backend)
    await call(registry, "c1")
    limits = Limits(max_concurrent=1)
    assert await a.acquire("org_a", "c1", limits) is None
    assert await a.acquire("org_a", "c1", limits) is None


async def test_calls_per_second_hold_across_processes(backend: Backend) -> None:
    a, b, registry = two_processes(backend)
    limits = Limits(per_second=2)
    for n in range(4):
        await call(registry, f"r{n}")
    assert await a.acquire("org_a", "r0", limits) is None
    assert await b.acquire("org_a", "r1", limits) is None
    refusal = await a.acquire("org_a", "r2", limits)
    assert refusal is not None and refusal.reason == RATE and refusal.status == 429
    assert refusal.retry_after_s is not None and 0 < refusal.retry_after_s <= 1.0
    await asyncio.sleep(refusal.retry_after_s + 0.05)
    assert await b.acquire("org_a", "r2", limits) is None


async def test_a_refused_start_takes_no_slot(backend: Backend) -> None:
    a, _, registry = two_processes(backend)
    for ref in ("x1", "x2"):
        await call(registry, ref)
    limits = Limits(max_concurrent=1, per_second=1)
    assert await a.acquire("org_a", "x1", limits) is None
    assert (await a.acquire("org_a", "x2", limits) or pytest.fail("not refused")).reason == (
        CONCURRENCY
    )
    await a.release("org_a", "x1")
    refusal = await a.acquire("org_a", "x2", limits)
    assert refusal is not None and refusal.reason == RATE, "x1's start still counts this second"


async def test_many_processes_racing_never_exceed_the_limit(backend: Backend) -> None:
    registry = backend.registry("gw-a")
    limiters = (
        [backend.limiter(f"gw-{n}") for n in range(4)] if backend.shared else [backend.limiter()]
    )
    refs = [f"race{n}" for n in range(40)]
    for ref in refs:
        await call(registry, ref)
    limits = Limits(max_concurrent=7)
    results = await asyncio.gather(
        *(limiters[n % len(limiters)].acquire("org_a", ref, limits) for n, ref in enumerate(refs))
    )
    assert sum(r is None for r in results) == 7


async def test_a_slot_frees_itself_when_its_call_ends_or_vanishes(shared: Backend) -> None:
    """A process that dies never releases; its calls end or expire, and so do its slots."""
    registry = shared.registry("gw-a")
    limiter = shared.limiter("gw-b")
    limits = Limits(max_concurrent=1)
    first = await call(registry, "first")
    await call(registry, "second")
    assert await limiter.acquire("org_a", "first", limits) is None
    assert await limiter.acquire("org_a", "second", limits) is not None
    first.ended_at = 1.0
    await registry.save(first, "ended_at")
    assert await limiter.acquire("org_a", "second", limits) is None


def test_an_organization_setting_wins_over_the_deployment_default() -> None:
    defaults = Limits(max_concurrent=10, per_second=5)
    assert limits_for({}, defaults) == defaults
    own = {"limits": {"max_concurrent_calls": 3}}
    assert limits_for(own, defaults) == Limits(max_concurrent=3, per_second=5)
    assert Limits(per_second=0.5).window == (1, 2.0), "0.5 a second: one call in any 2 s"
    assert Limits(per_second=2.5).window == (2, 0.8)
