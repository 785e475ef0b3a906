"""Applying what providers report about a message: accepted, sent, delivered, read,
failed. Every report is kept (deduplicated on its provider event id); the message's
status moves only forward (:mod:`.status`); a hard failure marks the interaction
failed and emits ``message.failed`` (:mod:`.events`) in the same transaction.

Which message a report is about: parley's own message id travels with the message
(in the Twilio status-callback URL, in a Resend tag), so a report that arrives before
the provider's answer to the send was stored still finds its message. The provider's
id is the fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.compliance import optout
from backoffice.errors import InvalidInput
from backoffice.messaging import events, store
from backoffice.messaging.status import (
    HARD_FAILURES,
    RESEND_EVENTS,
    TWILIO_STATUSES,
    advances,
)
from backoffice.orgs.service import get_organization
from backoffice.store.tables import message_events, messages, new_id, utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Applied:
    """What a report did: ``outcome`` is ``applied`` (the status moved), ``kept`` (stored,
    status unchanged: late, repeated in meaning, or not about delivery), ``duplicate``
    (this very report was seen before) or ``unknown_message``."""

    outcome: str
    message_id: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """Whose credentials authenticated a report: parley's (``org_id`` None) or one
    organization's own. A report may only touch messages sent with those credentials."""

    mode: str
    org_id: str | None = None

    def owns(self, row: Row[Any]) -> bool:
        if self.mode == "byop":
            return bool(row.org_id == self.org_id and row.credential_mode == "byop")
        return bool(row.credential_mode == "managed" and (self.org_id in (None, row.org_id)))


async def accepted(conn: AsyncConnection, row: Row[Any], provider_id: str, status: str) -> None:
    """The provider took the message: store its id and first status."""
    mapped = TWILIO_STATUSES.get(status, "queued")
    if advances(row.status, mapped):
        await store.set_state(conn, row, status=mapped, provider_id=provider_id)
    else:
        await store.set_state(conn, row, status=row.status, provider_id=provider_id)


#: Twilio's "the recipient has opted out": they replied STOP to this sender at the
#: carrier (possibly before parley ever wrote to them).
CARRIER_OPT_OUT = "21610"


async def fail_now(conn: AsyncConnection, row: Row[Any], code: str, message: str) -> None:
    """The provider refused the send itself."""
    await _record(conn, row, f"send:{row.id}", "send.refused", "failed", {"code": code})
    await _move(conn, row, "failed", code, message)
    await _honour_carrier_opt_out(conn, row, code)


async def _honour_carrier_opt_out(conn: AsyncConnection, row: Row[Any], code: str | None) -> None:
    """A STOP the carrier reports is the debtor's word like a STOP reply to parley: the
    contacts reachable at that number are opted out of every channel, audited."""
    if code != CARRIER_OPT_OUT or row.channel != "sms":
        return
    org = await get_organization(conn, row.org_id)
    try:
        matched = await optout.opt_out_phone(
            conn,
            org_id=row.org_id,
            region=org.country,
            phone=row.to_address,
            reason=f"the carrier reports the recipient replied STOP (Twilio {code})",
            actor="carrier:twilio",
            source="reply",
        )
    except InvalidInput:
        matched = []
    log.info(
        "message.carrier_opt_out",
        org_id=row.org_id,
        account_id=row.account_id,
        message_id=row.id,
        contacts=len(matched),
    )


async def apply_twilio_status(
    conn: AsyncConnection, source: Source, params: Mapping[str, str], message_id: str | None
) -> Applied:
    """A Twilio status callback (reference §5.3), form fields as received."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    raw = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    row = await _find(conn, "twilio", sid, message_id)
    if row is None or not source.owns(row):
        return Applied("unknown_message")
    status = TWILIO_STATUSES.get(raw)
    code = params.get("ErrorCode") or None
    event_id = f"twilio:{sid}:{raw}:{code or ''}:{params.get('EventType', '')}"
    detail = {
        k: params[k] for k in ("ErrorCode", "EventType", "ChannelStatusMessage") if k in params
    }
    if not row.provider_id and sid:
        await store.set_state(conn, row, status=row.status, provider_id=sid)
        row = await _find(conn, "twilio", sid, row.id)
        assert row is not None
    if not await _record(conn, row, event_id, f"twilio.{raw or 'unknown'}", status, detail):
        return Applied("duplicate", row.id, row.status)
    if status is None or not advances(row.status, status):
        return Applied("kept", row.id, row.status)
    await _move(conn, row, status, code, params.get("ChannelStatusMessage"))
    await _honour_carrier_opt_out(conn, row, code)
    return Applied("applied", row.id, status)


async def apply_resend_event(
    conn: AsyncConnection, source: Source, event_id: str, payload: Mapping[str, Any]
) -> Applied:
    """A verified Resend webhook event about an email (reference §6.3)."""
    kind = str(payload.get("type", ""))
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    assert isinstance(data, dict)
    row = await _find(conn, "resend", str(data.get("email_id", "")), _tag(data, "parley_message"))
    if row is None or not source.owns(row):
        return Applied("unknown_message")
    status = RESEND_EVENTS.get(kind)
    detail: dict[str, Any] = {}
    for extra in ("bounce", "failed", "suppressed", "click"):
        if isinstance(data.get(extra), dict):
            detail[extra] = data[extra]
    if not await _record(conn, row, f"resend:{event_id}", kind or "unknown", status, detail):
        return Applied("duplicate", row.id, row.status)
    if status is None or not advances(row.status, status):
        return Applied("kept", row.id, row.status)
    code, message = _resend_error(kind, data)
    await _move(conn, row, status, code, message)
    return Applied("applied", row.id, status)


def _resend_error(kind: str, data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    if kind == "email.bounced" and isinstance(data.get("bounce"), dict):
        bounce = data["bounce"]
        return (
            f"bounce:{bounce.get('type', 'Undetermined')}",
            str(bounce.get("message") or bounce.get("subType") or "bounced"),
        )
    if kind == "email.failed" and isinstance(data.get("failed"), dict):
        return "failed", str(data["failed"].get("reason", "failed"))
    if kind == "email.suppressed":
        return "suppressed", "the address is on Resend's suppression list"
    return None, None


def _tag(data: Mapping[str, Any], name: str) -> str | None:
    """A tag's value; ``tags`` is an object in Resend's spec and a list of
    ``{name, value}`` in its docs (reference §6.3), so both are read."""
    tags = data.get("tags")
    if isinstance(tags, dict):
        value = tags.get(name)
        return str(value) if value else None
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict) and tag.get("name") == name and tag.get("value"):
                return str(tag["value"])
    return None


async def _find(
    conn: AsyncConnection, provider: str, provider_id: str, message_id: str | None
) -> Row[Any] | None:
    if message_id:
        row = (
            await conn.execute(
                select(messages)
                .where(messages.c.id == message_id, messages.c.provider == provider)
                .with_for_update()
            )
        ).first()
        if row is not None and (
            not row.provider_id or not provider_id or row.provider_id == provider_id
        ):
            return row
    if provider_id:
        return await store.by_provider_id(conn, provider, provider_id, for_update=True)
    return None


async def _record(
    conn: AsyncConnection,
    row: Row[Any],
    event_id: str,
    kind: str,
    status: str | None,
    detail: dict[str, Any],
) -> bool:
    """Keep the report; False when this event id was kept before."""
    event_id = event_id[:160]
    seen = (
        await conn.execute(
            select(message_events.c.id).where(message_events.c.provider_event_id == event_id)
        )
    ).first()
    if seen is not None:
        return False
    await conn.execute(
        insert(message_events).values(
            id=new_id(),
            org_id=row.org_id,
            message_id=row.id,
            provider_event_id=event_id,
            kind=kind[:48],
            status=status,
            applied=status is not None and advances(row.status, status),
            detail=detail or None,
            at=utcnow(),
        )
    )
    return True


async def _move(
    conn: AsyncConnection,
    row: Row[Any],
    status: str,
    code: str | None,
    message: str | None,
) -> None:
    await store.set_state(conn, row, status=status, error_code=code, error_message=message)
    log.info(
        "message.status",
        org_id=row.org_id,
        account_id=row.account_id,
        message_id=row.id,
        channel=row.channel,
        status=status,
    )
    if status in HARD_FAILURES:
        await events.emit(
            conn,
            org_id=row.org_id,
            kind=events.MESSAGE_FAILED,
            entity_type="message",
            entity_id=row.id,
            account_id=row.account_id,
            contact_id=row.contact_id,
            payload={
                "message_id": row.id,
                "interaction_id": row.interaction_id,
                "channel": row.channel,
                "status": status,
                "address": row.to_address,
                "error_code": code,
                "error_message": message,
            },
        )
