"""Waiting for a condition over the stand-ins' records.

Why polling: records are plain data appended from many places (readers, pacers,
scripts); wiring a notification into every append would couple all of them for the
sake of tests. Checking every 10 ms costs nothing measurable and keeps records dumb.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def poll_until(
    condition: Callable[[], bool], timeout_s: float, every_s: float = 0.01
) -> None:
    """Return once ``condition()`` is true; raise TimeoutError after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - see module docstring
            await asyncio.sleep(every_s)
