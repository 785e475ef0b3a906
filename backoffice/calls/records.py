"""Which system of record an organization's calls use, decided by its call policy.

One resolver per process. The choice is re-read at most every few seconds, so an
admin switching an organization to its own system does not wait for a restart, and
a busy gateway does not read the organization on every tool call.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from backoffice.calls.builtin import BuiltinRecords
from backoffice.calls.interface import SystemOfRecord
from backoffice.calls.policy import CallPolicy, RemoteRecordsConfig, policy_of
from backoffice.orgs.models import Organization
from backoffice.orgs.service import get_organization
from backoffice.store.db import Database

RemoteFactory = Callable[[str, RemoteRecordsConfig], SystemOfRecord]


@dataclass(frozen=True, slots=True)
class OrgCalls:
    org: Organization
    policy: CallPolicy
    records: SystemOfRecord


class RecordsResolver:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], dt.datetime],
        remote: RemoteFactory | None = None,
        ttl_s: float = 5.0,
    ) -> None:
        self.db = db
        self.builtin = BuiltinRecords(db, clock, organization=self._organization)
        self._remote = remote
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, OrgCalls]] = {}

    async def policy(self, org_id: str) -> CallPolicy:
        return (await self.org_calls(org_id)).policy

    async def records_for(self, org_id: str) -> SystemOfRecord:
        return (await self.org_calls(org_id)).records

    async def org_calls(self, org_id: str) -> OrgCalls:
        """The organization, its call policy and its system of record (cached briefly).

        Raises:
            NotFound: no such organization.
        """
        now = time.monotonic()
        cached = self._cache.get(org_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.db.read() as conn:
            org = await get_organization(conn, org_id)
        policy = policy_of(org.settings)
        config = policy.system_of_record
        records: SystemOfRecord = self.builtin
        if isinstance(config, RemoteRecordsConfig) and self._remote is not None:
            records = self._remote(org_id, config)
        entry = OrgCalls(org, policy, records)
        self._cache[org_id] = (now + self._ttl_s, entry)
        return entry

    async def _organization(self, org_id: str) -> Organization:
        return (await self.org_calls(org_id)).org

    def forget(self, org_id: str) -> None:
        self._cache.pop(org_id, None)
