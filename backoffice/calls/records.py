"""Which system of record an organization's calls use, decided by its call policy.

One resolver per process. The choice is re-read at most every few seconds, so an
admin switching an organization to its own system does not wait for a restart, and
a busy gateway does not read the organization on every tool call.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from backoffice.calls.builtin import BuiltinRecords
from backoffice.calls.interface import SystemOfRecord
from backoffice.calls.policy import CallPolicy, RemoteRecordsConfig, policy_of
from backoffice.orgs.service import get_organization
from backoffice.store.db import Database

RemoteFactory = Callable[[str, RemoteRecordsConfig], SystemOfRecord]


class RecordsResolver:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], dt.datetime],
        remote: RemoteFactory | None = None,
        ttl_s: float = 5.0,
    ) -> None:
        self.db = db
        self.builtin = BuiltinRecords(db, clock)
        self._remote = remote
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, CallPolicy, SystemOfRecord]] = {}

    async def policy(self, org_id: str) -> CallPolicy:
        return (await self._entry(org_id))[0]

    async def records_for(self, org_id: str) -> SystemOfRecord:
        return (await self._entry(org_id))[1]

    async def _entry(self, org_id: str) -> tuple[CallPolicy, SystemOfRecord]:
        now = time.monotonic()
        cached = self._cache.get(org_id)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        async with self.db.read() as conn:
            org = await get_organization(conn, org_id)
        policy = policy_of(org.settings)
        config = policy.system_of_record
        records: SystemOfRecord = self.builtin
        if isinstance(config, RemoteRecordsConfig) and self._remote is not None:
            records = self._remote(org_id, config)
        self._cache[org_id] = (now + self._ttl_s, policy, records)
        return policy, records

    def forget(self, org_id: str) -> None:
        self._cache.pop(org_id, None)
