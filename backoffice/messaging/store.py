"""Rows of messages and their interactions; the WhatsApp window. Connection in, no commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.messaging.models import MessageView
from backoffice.messaging.status import interaction_status
from backoffice.store.tables import interactions, messages, new_id, utcnow, whatsapp_windows

WINDOW = dt.timedelta(hours=24)

_CHANNEL_WORDS = {"sms": "SMS", "whatsapp": "WhatsApp", "email": "email"}


def summary_of(channel: str, direction: str, template: str | None, status: str) -> str:
    """``debt summary by WhatsApp, delivered``: what happened, without the content."""
    words = _CHANNEL_WORDS[channel]
    if direction == "inbound":
        return f"reply received by {words}"
    what = template.replace("_", " ") if template else "free-form message"
    return f"{what} sent by {words}, {status}"


async def insert_message(conn: AsyncConnection, values: dict[str, Any]) -> tuple[str, str]:
    """A message and its interaction; returns (message id, interaction id).

    ``values`` holds the message's columns (``org_id``, ``channel``, ...); the
    interaction gets the same account, contact, channel, direction and status.
    """
    now = values.get("created_at") or utcnow()
    interaction_id = new_id()
    await conn.execute(
        insert(interactions).values(
            id=interaction_id,
            org_id=values["org_id"],
            account_id=values.get("account_id"),
            contact_id=values.get("contact_id"),
            channel=values["channel"],
            direction=values["direction"],
            provider_id=values.get("provider_id"),
            status=interaction_status(values["status"]),
            summary=summary_of(
                values["channel"], values["direction"], values.get("template"), values["status"]
            ),
            started_at=now,
            created_at=now,
        )
    )
    message_id = values.get("id") or new_id()
    await conn.execute(
        insert(messages).values(
            **{
                **values,
                "id": message_id,
                "interaction_id": interaction_id,
                "created_at": now,
                "updated_at": now,
            }
        )
    )
    return message_id, interaction_id


async def set_state(
    conn: AsyncConnection,
    message: Row[Any],
    *,
    status: str,
    provider_id: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    """Write a message's status (and provider id / error) and mirror it on its interaction."""
    changes: dict[str, Any] = {"status": status, "updated_at": utcnow()}
    if provider_id is not None:
        changes["provider_id"] = provider_id
    if error_code is not None:
        changes["error_code"] = error_code[:32]
    if error_message is not None:
        changes["error_message"] = error_message[:500]
    await conn.execute(update(messages).where(messages.c.id == message.id).values(**changes))
    if message.interaction_id:
        shown: dict[str, Any] = {
            "status": interaction_status(status),
            "summary": summary_of(message.channel, message.direction, message.template, status),
        }
        if provider_id is not None:
            shown["provider_id"] = provider_id
        if status in ("delivered", "read", "failed", "undelivered", "bounced", "canceled"):
            shown["ended_at"] = utcnow()
        await conn.execute(
            update(interactions).where(interactions.c.id == message.interaction_id).values(**shown)
        )


async def by_key(conn: AsyncConnection, org_id: str, key: str) -> Row[Any] | None:
    return (
        await conn.execute(
            select(messages).where(messages.c.org_id == org_id, messages.c.idempotency_key == key)
        )
    ).first()


async def by_id(
    conn: AsyncConnection, org_id: str, message_id: str, *, for_update: bool = False
) -> Row[Any] | None:
    """The message; ``for_update`` locks it (PostgreSQL) until the transaction ends, so
    a send's answer and a delivery report never both decide from a stale status."""
    query = select(messages).where(messages.c.org_id == org_id, messages.c.id == message_id)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def by_provider_id(
    conn: AsyncConnection, provider: str, provider_id: str, *, for_update: bool = False
) -> Row[Any] | None:
    query = select(messages).where(
        messages.c.provider == provider, messages.c.provider_id == provider_id
    )
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


def view(row: Row[Any]) -> MessageView:
    return MessageView(
        id=row.id,
        channel=row.channel,
        direction=row.direction,
        status=row.status,
        template=row.template,
        language=row.language,
        summary=summary_of(row.channel, row.direction, row.template, row.status),
        content=row.body,
        subject=row.subject,
        to=row.to_address,
        from_=row.from_address,
        account_id=row.account_id,
        contact_id=row.contact_id,
        interaction_id=row.interaction_id,
        provider_id=row.provider_id,
        error_code=row.error_code,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# --- the WhatsApp window --------------------------------------------------------------


async def window_opened_at(conn: AsyncConnection, org_id: str, address: str) -> dt.datetime | None:
    """When the debtor at ``address`` last wrote to the organization on WhatsApp."""
    return (
        await conn.execute(
            select(whatsapp_windows.c.last_inbound_at).where(
                whatsapp_windows.c.org_id == org_id, whatsapp_windows.c.address == address
            )
        )
    ).scalar()


def window_open(opened_at: dt.datetime | None, at: dt.datetime) -> bool:
    return opened_at is not None and opened_at <= at < opened_at + WINDOW


async def open_window(
    conn: AsyncConnection, org_id: str, address: str, contact_id: str | None, at: dt.datetime
) -> None:
    """Restart the 24 h window at ``at`` (a later inbound only ever moves it forward)."""
    current = await window_opened_at(conn, org_id, address)
    if current is None:
        await conn.execute(
            insert(whatsapp_windows).values(
                id=new_id(),
                org_id=org_id,
                address=address,
                contact_id=contact_id,
                last_inbound_at=at,
            )
        )
    elif at > current:
        await conn.execute(
            update(whatsapp_windows)
            .where(whatsapp_windows.c.org_id == org_id, whatsapp_windows.c.address == address)
            .values(last_inbound_at=at, contact_id=contact_id)
        )
