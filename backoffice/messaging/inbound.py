"""Replies from debtors: attached to their contact, opening WhatsApp's window, and
STOP-style words opting them out.

A reply is matched by its sender's address among the organization's contacts (main
phone, WhatsApp number, alternate numbers; email address), and to the account of the
latest message parley sent that contact, when there is one. An unknown sender's
message is kept all the same (nothing a debtor writes is dropped).

Opt-out words (:data:`OPT_OUT_WORDS`, es/en/pt, accents and case ignored) count when
they are the whole message, or followed only by courtesy words ("BAJA por favor",
"stop please"): "para mañana pago" is not an opt-out. By phone, the number itself
goes on the organization's do-not-contact list, so every contact with it is out.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.compliance import optout
from backoffice.messaging import events, store
from backoffice.orgs.service import get_organization
from backoffice.store.tables import contacts, messages

log = structlog.get_logger(__name__)

OPT_OUT_WORDS = frozenset(
    {
        # en (the carriers' standard set)
        "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout",
        # es
        "baja", "parar", "cancelar", "alto", "detener", "basta",
        # pt
        "sair", "pare", "cancele", "descadastrar", "remover",
    }
)  # fmt: skip
COURTESY = frozenset(
    {"por", "favor", "please", "pls", "thanks", "thank", "you", "gracias", "obrigado",
     "obrigada", "ya", "now", "me", "de", "dar", "darme", "quiero", "i", "want", "to"}
)  # fmt: skip
_WORD = re.compile(r"[a-z]+")


def opt_out_word(text: str) -> str | None:
    """The opt-out word ``text`` amounts to, or None."""
    plain = unicodedata.normalize("NFKD", text.lower())
    words = _WORD.findall("".join(c for c in plain if not unicodedata.combining(c)))
    hits = [w for w in words if w in OPT_OUT_WORDS]
    if len(hits) != 1 or not all(w in COURTESY or w == hits[0] for w in words):
        return None
    return str(hits[0])


@dataclass(frozen=True, slots=True)
class Reply:
    """What an inbound message became."""

    message_id: str | None
    contact_id: str | None
    account_id: str | None
    opted_out: bool
    duplicate: bool = False


async def receive(
    conn: AsyncConnection,
    *,
    org_id: str,
    channel: str,
    provider: str,
    provider_id: str,
    sender: str,
    recipient: str,
    text: str,
    subject: str | None,
    credential_mode: str,
    at: dt.datetime,
) -> Reply:
    """Store one inbound message of ``org_id`` (in the caller's transaction)."""
    if provider_id:
        seen = await store.by_provider_id(conn, provider, provider_id)
        if seen is not None:
            return Reply(seen.id, seen.contact_id, seen.account_id, False, duplicate=True)
    contact_id, account_id = await _match(conn, org_id, channel, sender)
    message_id, _ = await store.insert_message(
        conn,
        {
            "org_id": org_id,
            "account_id": account_id,
            "contact_id": contact_id,
            "channel": channel,
            "direction": "inbound",
            "provider": provider,
            "provider_id": provider_id or None,
            "credential_mode": credential_mode,
            "to_address": recipient[:320],
            "from_address": sender[:320],
            "subject": (subject or None) and subject[:300],
            "body": text,
            "status": "received",
            "actor": f"debtor:{channel}",
            "created_at": at,
        },
    )
    if channel == "whatsapp":
        await store.open_window(conn, org_id, sender, contact_id, at)
    word = opt_out_word(text) or (opt_out_word(subject) if subject else None)
    opted_out = False
    if word is not None:
        opted_out = await _opt_out(conn, org_id, channel, sender, contact_id, word)
    if contact_id is not None:
        await events.emit(
            conn,
            org_id=org_id,
            kind=events.MESSAGE_REPLIED,
            entity_type="message",
            entity_id=message_id,
            account_id=account_id,
            contact_id=contact_id,
            payload={
                "message_id": message_id,
                "channel": channel,
                "address": sender,
                "opted_out": opted_out,
            },
        )
    log.info(
        "message.received",
        org_id=org_id,
        account_id=account_id,
        contact_id=contact_id,
        channel=channel,
        opted_out=opted_out,
    )
    return Reply(message_id, contact_id, account_id, opted_out)


async def _match(
    conn: AsyncConnection, org_id: str, channel: str, sender: str
) -> tuple[str | None, str | None]:
    """(contact, account) for a sender: the contact parley last wrote to at that
    address wins when several share it; the account is that message's."""
    if channel == "email":
        rows = await conn.execute(
            select(contacts.c.id).where(
                contacts.c.org_id == org_id, contacts.c.email.ilike(sender.strip())
            )
        )
        candidates = {r.id for r in rows}
    else:
        owners = await optout.contacts_by_number(conn, org_id, [sender])
        candidates = owners.get(sender, set())
    if not candidates:
        return None, None
    last: Any = (
        await conn.execute(
            select(messages.c.contact_id, messages.c.account_id)
            .where(
                messages.c.org_id == org_id,
                messages.c.direction == "outbound",
                messages.c.contact_id.in_(sorted(candidates)),
            )
            .order_by(messages.c.created_at.desc(), messages.c.id.desc())
            .limit(1)
        )
    ).first()
    if last is not None:
        return last.contact_id, last.account_id
    return sorted(candidates)[0], None


async def _opt_out(
    conn: AsyncConnection,
    org_id: str,
    channel: str,
    sender: str,
    contact_id: str | None,
    word: str,
) -> bool:
    reason = f"replied {word.upper()} by {channel}"
    actor = f"debtor:{channel}"
    if channel == "email":
        if contact_id is None:
            return False
        await optout.opt_out_contact(
            conn, org_id=org_id, contact_id=contact_id, reason=reason, actor=actor, source="reply"
        )
        return True
    org = await get_organization(conn, org_id)
    matched = await optout.opt_out_phone(
        conn,
        org_id=org_id,
        region=org.country,
        phone=sender,
        reason=reason,
        actor=actor,
        source="reply",
    )
    return bool(matched) or contact_id is None
