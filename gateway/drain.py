"""Graceful drain: a gateway asked to stop finishes its calls before it goes.

On SIGTERM (see ``bin/server.py``) the process turns unready: ``/health`` answers 503
so the load balancer sends it nothing new, new calls are refused (TwiML rejects,
``POST /api/calls`` answers 503), and no new prewarmed session opens. It still
serves everything its active calls need: their media sockets, status callbacks,
tool webhooks and supervisors. Once they have all ended, or ``PARLEY_DRAIN_TIMEOUT_S``
has passed (then the rest are ended the way an operator's hang-up ends them), it
exits.
"""

from __future__ import annotations

import asyncio

import structlog

from gateway.services import Services

log = structlog.get_logger(__name__)

HANG_UP_GRACE_S = 15.0


async def drain(services: Services, timeout_s: float) -> None:
    """Stop taking calls; return when the active ones have ended (see module docstring)."""
    services.draining = True
    loop = asyncio.get_running_loop()
    log.info(
        "gateway.draining",
        active_calls=len(services.runners),
        media_sockets=services.media_sockets,
        timeout_s=timeout_s,
    )
    if not await _until_idle(services, loop.time() + timeout_s):
        left = list(services.runners.values())
        log.warning("gateway.drain_timeout", ending_calls=len(left))
        for runner in left:
            runner.request_hang_up("gateway_drained")
        await _until_idle(services, loop.time() + HANG_UP_GRACE_S)
    log.info("gateway.drained", active_calls=len(services.runners))


async def _until_idle(services: Services, deadline: float) -> bool:
    loop = asyncio.get_running_loop()
    while not services.idle():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.1)
    return True
