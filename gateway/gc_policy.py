"""When the garbage collector may pause a serving gateway.

A collection stops the event loop, and with it every call of the process: no caller
frame reaches its agent and no agent frame its caller until it is over. Young
collections walk the few thousand objects made since the last one (measured at
0.2-4 ms with 250 calls up), but a full collection walks every tracked object the
process holds: 20-50 ms with a couple of hundred calls up, which every caller hears.
CPython starts a full collection whenever the objects that outlived young collections
have grown by a quarter since the last one, so a gateway whose calls come and go has
one every few tens of seconds.

So a serving process:

- freezes what start-up built (modules, the operator API's models: ~200k objects no
  collection needs to walk again; ``gc.freeze``);
- lets CPython start a full collection only after :data:`YOUNG_BEFORE_FULL`
  middle-generation collections (the default is ten), i.e. minutes apart on a busy
  process rather than seconds;
- runs a full collection itself once its last call has ended and no media stream is
  open (:meth:`CollectorPolicy.idle`), when there is nobody to hear it: a moment
  later (:data:`IDLE_DELAY_S`), so that the call's own ending (its last live events,
  its records, its recording) is not held up, and only if it is still idle then.

The price: what a call leaves behind in reference cycles waits for the next idle
moment or full collection, rather than for the next collection of any kind.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

#: Middle-generation collections before CPython may start a full one by itself.
YOUNG_BEFORE_FULL = 100
#: How long after the last call ended the idle collection runs.
IDLE_DELAY_S = 1.0


class CollectorPolicy:
    """The serving process's collector settings, and the full collection when idle."""

    def __init__(
        self, collect: Callable[[], object] = gc.collect, *, idle_delay_s: float = IDLE_DELAY_S
    ) -> None:
        self._collect = collect
        self._idle_delay_s = idle_delay_s
        self._idle_pending = False

    def start(self) -> None:
        """After start-up: collect, freeze what is left, and space full collections."""
        self._collect()
        gc.freeze()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, YOUNG_BEFORE_FULL)

    def idle(self, still_idle: Callable[[], bool]) -> None:
        """The last call has ended: collect fully in a moment if ``still_idle()`` then
        says no call has started meanwhile; one collection at a time."""
        if self._idle_pending:
            return
        self._idle_pending = True
        asyncio.get_running_loop().call_later(self._idle_delay_s, self._collect_if, still_idle)

    def _collect_if(self, still_idle: Callable[[], bool]) -> None:
        self._idle_pending = False
        if still_idle():
            self._collect()
