"""The one error type the protocol parsers raise.

Parsers never let a ``KeyError`` or ``TypeError`` escape: every way a peer's message
can be wrong becomes a :class:`ProtocolError` that names the field and the reason,
so the caller can count it, log it and carry on (see ``gateway/error_policy.py``).
"""

from __future__ import annotations


class ProtocolError(Exception):
    """A message from a peer that does not follow its protocol."""

    def __init__(self, peer: str, field: str, reason: str) -> None:
        super().__init__(f"{peer}: {field}: {reason}")
        self.peer = peer
        self.field = field
        self.reason = reason
