"""The test suite's PostgreSQL: the product's local server helper, or a clear skip/fail.

In CI (``PARLEY_REQUIRE_SYSTEM_TOOLS=1``) a missing PostgreSQL fails the run instead of
skipping the PostgreSQL half of the backoffice suite.
"""

from __future__ import annotations

from bin.local_postgres import PostgresServer as _Server
from tests.system_tools import require_tool


class PostgresServer(_Server):
    def start(self) -> None:
        if not (self.bindir / "initdb").exists():
            require_tool("initdb")
        super().start()


__all__ = ["PostgresServer"]
