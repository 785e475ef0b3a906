"""The serving process's collector policy: frozen start-up heap, spaced full
collections, and a full collection once the loop's turn is over when the last call ends."""

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


async def test_idle_collects_once_after_the_loop_turn() -> None:
    collections: list[int] = []
    policy = CollectorPolicy(collect=lambda: collections.append(1))
    policy.idle()
    policy.idle()  # two sockets closing in one turn: one collection
    assert collections == []  # not inside the socket's own clean-up
    await asyncio.sleep(0)
    assert collections == [1]
    assert policy.idle_collections == 1
    policy.idle()
    await asyncio.sleep(0)
    assert policy.idle_collections == 2
