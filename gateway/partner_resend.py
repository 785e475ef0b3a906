"""Sending again the call reports an organization's own system did not take.

See :mod:`backoffice.calls.remote_outbox`; this is the gateway's periodic loop around
it, with the organization's current adapter from the records resolver (an
organization back on the built-in store has nothing to send them to).
"""

from __future__ import annotations

import asyncio

import structlog

from backoffice.calls import remote_outbox
from backoffice.calls.records import RecordsResolver
from backoffice.calls.remote import RemoteRecords
from backoffice.store.db import Database

log = structlog.get_logger(__name__)


def resender_for(resolver: RecordsResolver) -> remote_outbox.ResenderFor:
    async def find(org_id: str) -> remote_outbox.Resender | None:
        records = await resolver.records_for(org_id)
        return records if isinstance(records, RemoteRecords) else None

    return find


async def resend_forever(db: Database, resolver: RecordsResolver, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            taken = await remote_outbox.resend_due(db, resender_for(resolver))
        except Exception:
            log.exception("partner.resend_failed")
            continue
        if taken:
            log.info("partner.resent", delivered=taken)
