"""Delivery states, and the one rule that orders them: a message only moves forward.

Providers report delivery in separate HTTP requests that may arrive in any order,
late or twice (reference ``twilio-resend.md`` §5.2, §6.3). A status is therefore
applied only when it ranks above the current one:

    pending < accepted, queued < sending < sent < delivered < read
    failed, undelivered, bounced, canceled: final

A failure ranks above everything and nothing replaces it: once a message failed,
a late ``sent`` or ``delivered`` is kept as an event and changes nothing. Inbound
messages are ``received`` and stay so.
"""

from __future__ import annotations

RANK: dict[str, int] = {
    "pending": 0,
    "accepted": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "received": 5,
    "failed": 9,
    "undelivered": 9,
    "bounced": 9,
    "canceled": 9,
}
FINAL = frozenset({"failed", "undelivered", "bounced", "canceled"})
HARD_FAILURES = frozenset({"failed", "undelivered", "bounced"})
"""Statuses that mean the debtor was not reached on that address: the strategy moves on."""

# Twilio MessageStatus values (reference §5.2) -> ours. ``receiving``/``received`` are
# inbound; ``partially_delivered`` (group messages) counts as delivered.
TWILIO_STATUSES: dict[str, str] = {
    "accepted": "accepted",
    "scheduled": "accepted",
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "partially_delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "undelivered",
    "canceled": "canceled",
    "receiving": "received",
    "received": "received",
}

# Resend webhook event types (reference §6.3) -> our status; None: an event to keep
# that says nothing about delivery (a delay, a complaint).
RESEND_EVENTS: dict[str, str | None] = {
    "email.scheduled": "accepted",
    "email.sent": "sent",
    "email.delivered": "delivered",
    "email.opened": "read",
    "email.clicked": "read",
    "email.bounced": "bounced",
    "email.failed": "failed",
    "email.suppressed": "failed",
    "email.delivery_delayed": None,
    "email.complained": None,
}


def advances(current: str, new: str) -> bool:
    """Whether ``new`` replaces ``current`` (unknown statuses never do)."""
    if current in FINAL or new not in RANK:
        return False
    return RANK[new] > RANK.get(current, 0)


def interaction_status(message_status: str) -> str:
    """What the interaction on the account timeline shows for a message's status."""
    return "failed" if message_status in HARD_FAILURES else message_status
