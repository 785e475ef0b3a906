"""The serving process's collector policy: frozen start-up heap, spaced full
collections, and a full collection a moment after the last call ends, if still idle."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from gateway.gc_policy import YOUNG_BEFORE_FULL, CollectorPolicy


@pytest.fixture
def restore_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_start_collects_freezes_and_spaces_full_collections(restore_collector: None) -> None:
    collections: list[int] = []
    young, middle, _ = gc.get_threshold()
    CollectorPolicy(collect=lambda: collections.append(1)).start()
    assert collections == [1]
    assert gc.get_freeze_count() > 0
    # Young and middle generations keep CPython's rhythm; only full ones are spaced.
    assert gc.get_threshold() == (young, middle, YOUNG_BEFORE_FULL)


async def test_idle_collects_once_a_moment_later_if_still_idle() -> None:
    collections: list[int] = []
    policy = CollectorPolicy(collect=lambda: collections.append(1), idle_delay_s=0.02)
    idle = True
    policy.idle(lambda: idle)
    policy.idle(lambda: idle)  # two sockets closing together: one collection
    await asyncio.sleep(0)
    assert collections == []  # not while the call's own ending is still running
    await asyncio.sleep(0.1)
    assert collections == [1]

    # A call started in the meantime: no collection under it.
    policy.idle(lambda: idle)
    idle = False
    await asyncio.sleep(0.1)
    assert collections == [1]
    idle = True
    policy.idle(lambda: idle)
    await asyncio.sleep(0.1)
    assert collections == [1, 1]
