"""The debt summary the agent sends during a call: the account's balance breakdown by
WhatsApp or email, in the contact's language.

This is the service behind the agent tool ``send_debt_summary``: the tool passes the
call's account, the channel the debtor chose, its tool-call id as the idempotency key
(a retried tool call sends one message, not two) and, when the call's language was
chosen for this call, that language as the override. Everything else (compliance,
the window, the verified domain, the wording) is :func:`~.send.send_message`'s.
"""

from __future__ import annotations

import datetime as dt

from backoffice.messaging.models import MessageRequest, Outcome, Reason, SendResult
from backoffice.messaging.providers import Messaging
from backoffice.messaging.send import send_message
from backoffice.store.db import Database

TEMPLATE = "debt_summary"
CHANNELS = ("whatsapp", "email")


async def send_debt_summary(
    db: Database,
    messaging: Messaging,
    *,
    org_id: str,
    account_id: str,
    channel: str,
    idempotency_key: str,
    actor: str,
    at: dt.datetime,
    language: str | None = None,
    to: str | None = None,
) -> SendResult:
    """Send the account's balance breakdown to its contact on ``channel``.

    Args:
        channel: ``whatsapp`` or ``email``.
        idempotency_key: e.g. the tool call's id; repeats send nothing and answer
            with the first message (outcome ``duplicate``).
        actor: e.g. ``agent:<call_sid>``.
        at: now (what the compliance check reads).
        language: an override of the contact's language (else the cascade decides).
        to: one of the contact's addresses; default: its main one for the channel.

    Returns:
        A :class:`SendResult` whose ``message`` the agent can say: sent, or refused
        with why (opted out, outside the allowed hours, no WhatsApp number, no
        verified email domain, WhatsApp window closed and no approved template...).
    """
    if channel not in CHANNELS:
        return SendResult(
            Outcome.REFUSED,
            Reason.CHANNEL_NOT_ALLOWED,
            "A debt summary can be sent by WhatsApp or email only.",
            channel,
        )
    return await send_message(
        db,
        messaging,
        MessageRequest(
            org_id=org_id,
            account_id=account_id,
            channel=channel,
            idempotency_key=idempotency_key,
            actor=actor,
            template=TEMPLATE,
            language=language,
            to=to,
        ),
        at=at,
    )
