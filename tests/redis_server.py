"""The test suite's ``redis-server``: the product's local server helper, or a clear skip/fail.

In CI (``PARLEY_REQUIRE_SYSTEM_TOOLS=1``) a missing redis-server fails the run instead
of skipping the Redis half of every two-backend test.
"""

from __future__ import annotations

from bin.local_redis import RedisServer as _Server
from tests.system_tools import require_tool


class RedisServer(_Server):
    def start(self, timeout_s: float = 10.0) -> None:
        require_tool("redis-server")
        super().start(timeout_s)


__all__ = ["RedisServer"]
