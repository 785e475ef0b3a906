"""Conversation signatures: the one-time tokens inside signed URLs.

Why: a private agent (``platform_settings.auth.enable_auth``) only accepts a socket
opened with a URL from ``get-signed-url``; the URL must be used within 15 minutes
and, per the SDK's own docs, its signature cannot be used twice. A gateway that
caches signed URLs or pre-opens sockets too early must fail here as it would in
production.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class _Grant:
    agent_id: str
    expires_at: float


class SignatureIssuer:
    """Issues and redeems single-use, expiring conversation signatures."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._grants: dict[str, _Grant] = {}
        self.issued = 0
        self.redeemed = 0

    def issue(self, agent_id: str) -> str:
        """A fresh signature for ``agent_id``."""
        token = secrets.token_urlsafe(24)
        self._grants[token] = _Grant(agent_id, self._clock() + self.ttl_s)
        self.issued += 1
        return token

    def redeem(self, token: str | None, agent_id: str) -> str | None:
        """Consume ``token``; return None if valid, else why it is refused."""
        if not token:
            return "missing conversation_signature"
        grant = self._grants.pop(token, None)
        if grant is None:
            return "unknown or already used conversation_signature"
        if grant.agent_id != agent_id:
            return "conversation_signature was issued for another agent"
        if self._clock() > grant.expires_at:
            return "conversation_signature expired"
        self.redeemed += 1
        return None
