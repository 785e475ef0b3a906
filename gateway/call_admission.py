"""Whether a new call may start now, under its organization's limits.

Checked where a call first becomes known, before anything is dialled or streamed:
``POST /api/calls`` (refused with 409 or 429 and the reason) and an inbound call's
TwiML request (rejected with a busy signal). A refused call's record is kept, ended
with the refusal as its outcome, so an operator can see what was turned away.
"""

from __future__ import annotations

import time
from typing import Any

import structlog

from backoffice.errors import NotFound
from backoffice.orgs.service import get_organization
from gateway.call_limits import Limits, Refusal, limits_for
from gateway.call_outcomes import record_call_end
from gateway.calls import CallRecord
from gateway.services import Services

log = structlog.get_logger(__name__)


def default_limits(services: Services) -> Limits:
    settings = services.settings
    return Limits(settings.org_max_concurrent_calls, settings.org_calls_per_second)


async def admit(
    services: Services, record: CallRecord, org_settings: dict[str, Any]
) -> Refusal | None:
    """Take a slot for a call already in the registry, or end it as refused.

    Raises:
        RedisUnavailable: the shared limits could not be checked.
    """
    limits = limits_for(org_settings, default_limits(services))
    refusal = await services.limits.acquire(record.org_id, record.call_ref, limits)
    if refusal is None:
        return None
    record.ended_at = time.time()
    record.end_reason = "refused"
    record.outcome = refusal.reason
    await services.calls.save(record)
    services.metrics.calls.labels(refusal.reason).inc()
    services.spawn(record_call_end(services, record), "call-outcome")
    log.info(
        "call.refused",
        call_sid=record.call_sid,
        org_id=record.org_id,
        account_id=record.account_id,
        reason=refusal.reason,
    )
    return refusal


async def admit_inbound(services: Services, record: CallRecord) -> Refusal | None:
    """:func:`admit` for an inbound call (its organization's settings read here)."""
    try:
        async with services.database.read() as conn:
            org = await get_organization(conn, record.org_id)
    except NotFound:
        return await admit(services, record, {})
    return await admit(services, record, org.settings)
