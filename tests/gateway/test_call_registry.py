"""The call registry, on both backends: in-process, and Redis shared by many processes.

"Another process" is a second registry with its own gateway id on the same Redis; on
the in-process backend it is the same registry (there is only one process).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from gateway.call_context import OpeningMode
from gateway.call_status import StatusUpdate
from gateway.calls import CallRecord, CallRegistry
from gateway.calls_redis import RedisCallRegistry
from tests.gateway.backends import Backend, backend, shared

__all__ = ["backend", "shared"]


def record(ref: str = "ref_1", org: str = "org_1", sid: str = "") -> CallRecord:
    return CallRecord(
        call_ref=ref, org_id=org, account_id="acct_42", direction="outbound", call_sid=sid
    )


def status_change(seq: int) -> Callable[[CallRecord], bool]:
    status = "ringing" if seq < 10 else "in-progress"
    return lambda r: r.apply_status(status, seq, float(seq))


def other(backend: Backend, registry: CallRegistry, gateway_id: str = "gw-b") -> CallRegistry:
    return backend.registry(gateway_id) if backend.shared else registry


async def test_a_call_is_found_by_ref_and_by_sid_once_bound(backend: Backend) -> None:
    registry = backend.registry()
    rec = record()
    await registry.add(rec)
    assert (await registry.by_ref("ref_1")) == rec
    assert await registry.by_sid("CA1") is None
    await registry.bind_sid(rec, "CA1")
    assert rec.call_sid == "CA1"
    found = await other(backend, registry).by_sid("CA1")
    assert found is not None and found.call_ref == "ref_1" and found.account_id == "acct_42"
    assert await registry.by_ref("nope") is None


async def test_binding_keeps_the_first_call_sid(backend: Backend) -> None:
    registry = backend.registry()
    rec = record()
    await registry.add(rec)
    await registry.bind_sid(rec, "CA1")
    stale = await other(backend, registry).by_ref("ref_1")
    assert stale is not None
    await other(backend, registry).bind_sid(stale, "CA2")
    assert stale.call_sid == "CA1"


async def test_every_field_of_a_record_survives_the_registry(backend: Backend) -> None:
    registry = backend.registry()
    rec = record(sid="CA7")
    rec.opening_mode = OpeningMode.AGENT_FIRST
    rec.history = [StatusUpdate("ringing", 1, 5.0), StatusUpdate("in-progress", 2, 6.5)]
    rec.transcript = [("agent", "Hola"), ("caller", "¿Quién es?")]
    rec.variables = {"debtor_first_name": "Ana", "balance": 12.5, "vip": True, "n": 3}
    rec.voice_id = "voice-1"
    rec.answered_at = 7.25
    await registry.add(rec)
    found = await other(backend, registry).by_sid("CA7")
    assert found == rec


async def test_active_lists_the_calls_of_one_organization_that_have_not_ended(
    backend: Backend,
) -> None:
    registry = backend.registry()
    a1, a2, b1 = record("a1", "org_a"), record("a2", "org_a"), record("b1", "org_b")
    for rec in (a1, a2, b1):
        await registry.add(rec)
    a2.ended_at = 1.0
    await registry.save(a2, "ended_at")
    seen = other(backend, registry)
    assert [r.call_ref for r in await seen.active("org_a")] == ["a1"]
    assert [r.call_ref for r in await seen.active("org_b")] == ["b1"]
    ended = await seen.by_ref("a2")
    assert ended is not None and ended.ended_at == 1.0, "an ended call stays readable"


async def test_concurrent_status_updates_from_two_processes_lose_nothing(
    backend: Backend,
) -> None:
    registry = backend.registry()
    await registry.add(record(sid="CA1"))
    a = await registry.by_sid("CA1")
    elsewhere = other(backend, registry)
    b = await elsewhere.by_sid("CA1")
    assert a is not None and b is not None
    updates = []
    for seq in range(1, 21):
        holder, where = (a, registry) if seq % 2 else (b, elsewhere)
        updates.append(where.update(holder, status_change(seq)))
    await asyncio.gather(*updates)
    final = await registry.by_sid("CA1")
    assert final is not None
    assert [u.sequence for u in final.history] == list(range(1, 21))
    assert (final.status, final.status_seq) == ("in-progress", 20)


async def test_an_update_that_raises_stores_nothing(backend: Backend) -> None:
    registry = backend.registry()
    rec = record(sid="CA1")
    await registry.add(rec)

    def bad(r: CallRecord) -> None:
        r.status = "half-done"
        raise ValueError("refused")

    elsewhere = other(backend, registry)
    found = await elsewhere.by_sid("CA1")
    assert found is not None
    with pytest.raises(ValueError, match="refused"):
        await elsewhere.update(found, bad)
    if backend.shared:  # (in-process, the change is on the very object: the caller's to undo)
        found = await registry.by_sid("CA1")
        assert found is not None and found.status == "queued"


async def test_the_stream_token_is_redeemed_once_on_any_process(backend: Backend) -> None:
    registry = backend.registry()
    rec = record(sid="CA1")
    await registry.add(rec)
    token = await registry.issue_stream_token(rec, 30.0)
    stream_side = other(backend, registry)
    assert await stream_side.redeem_stream_token("CA1", "wrong-token") is None
    assert await stream_side.redeem_stream_token("CA1", token) is None, "a wrong try spends it"
    token = await registry.issue_stream_token(rec, 30.0)
    results = await asyncio.gather(
        stream_side.redeem_stream_token("CA1", token), registry.redeem_stream_token("CA1", token)
    )
    assert [r is not None for r in results].count(True) == 1
    redeemed = next(r for r in results if r is not None)
    assert redeemed.call_ref == "ref_1"
    stored = await registry.by_sid("CA1")
    assert stored is not None and stored.owner == redeemed.owner != "", "claimed by the redeemer"


async def test_the_stream_token_expires(backend: Backend) -> None:
    registry = backend.registry()
    rec = record(sid="CA1")
    await registry.add(rec)
    token = await registry.issue_stream_token(rec, 0.05)
    await asyncio.sleep(0.2)
    assert await registry.redeem_stream_token("CA1", token) is None


async def test_claiming_a_call_names_the_process_that_streams_it(backend: Backend) -> None:
    registry = backend.registry("gw-a")
    rec = record(sid="CA1")
    await registry.add(rec)
    streamer = other(backend, registry, "gw-b")
    found = await streamer.by_sid("CA1")
    assert found is not None
    await streamer.claim(found)
    seen = await registry.by_sid("CA1")
    assert seen is not None and seen.owner == streamer.gateway_id


# ----------------------------------------------------------- Redis only: expiry
async def test_the_calls_of_a_process_that_died_disappear(shared: Backend) -> None:
    alive = shared.registry("gw-alive", live_ttl_s=0.4)
    dead = shared.registry("gw-dead", live_ttl_s=0.4)
    assert isinstance(alive, RedisCallRegistry) and isinstance(dead, RedisCallRegistry)
    alive.start()  # its heartbeat renews its calls; the dead one never beats
    kept, lost = record("kept", "org_x", "CA1"), record("lost", "org_x", "CA2")
    await alive.add(kept)
    await dead.add(lost)
    await alive.claim(kept)
    await dead.claim(lost)
    refs: list[str] = []
    for _ in range(200):
        refs = [r.call_ref for r in await alive.active("org_x")]
        if refs == ["kept"]:
            break
        await asyncio.sleep(0.02)
    assert refs == ["kept"]
    assert await alive.by_sid("CA2") is None
    await asyncio.sleep(0.8)  # twice the TTL: the live process's call is still there
    assert [r.call_ref for r in await alive.active("org_x")] == ["kept"]


async def test_a_process_stops_renewing_a_call_another_process_claimed(shared: Backend) -> None:
    creator = shared.registry("gw-api", live_ttl_s=5.0)
    streamer = shared.registry("gw-media", live_ttl_s=5.0)
    assert isinstance(creator, RedisCallRegistry) and isinstance(streamer, RedisCallRegistry)
    rec = record(sid="CA1")
    await creator.add(rec)
    assert creator.kept == 1
    found = await streamer.by_sid("CA1")
    assert found is not None
    await streamer.claim(found)
    await creator.beat()
    await streamer.beat()
    assert (creator.kept, streamer.kept) == (0, 1)
    found.ended_at = 2.0
    await streamer.save(found, "ended_at")
    assert streamer.kept == 0
