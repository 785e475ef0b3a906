"""Operator API: send a message to an account's contact, list an account's messages,
set up the organization's email sending domain and its messaging settings.

Sending needs the operator role; registering and verifying a domain needs admin
(it changes what the organization sends from). The send answers 201 when the
provider took the message, 200 for a repeated idempotency key (nothing sent again),
409 when parley refused (the reason and, for hours, when sending becomes allowed)
and 502 when the provider refused or did not answer. An account is named by its id
or its external id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from backoffice.api.framework import Api, Call, render
from backoffice.errors import BackofficeError, NotFound
from backoffice.messaging import domains
from backoffice.messaging.models import MessageRequest, MessageView, Outcome, SendResult
from backoffice.messaging.org_settings import (
    MessagingSettings,
    get_messaging_settings,
    set_messaging_settings,
)
from backoffice.messaging.providers import Messaging, ProviderRefused, ProviderUnavailable
from backoffice.messaging.recent import account_messages
from backoffice.messaging.send import send_message
from backoffice.store.tables import accounts

api = Api()
TAG = "messaging"
STATUS_OF = {Outcome.SENT: 201, Outcome.DUPLICATE: 200, Outcome.REFUSED: 409, Outcome.FAILED: 502}


class ProviderError(BackofficeError):
    status = 502


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(pattern="^(sms|whatsapp|email)$")
    idempotency_key: str = Field(
        min_length=1, max_length=128, description="Your key: the same key sends once."
    )
    template: str | None = Field(
        default=None, max_length=64, description="debt_summary, payment_reminder, ..."
    )
    text: str | None = Field(default=None, max_length=1600, description="Free-form text.")
    subject: str | None = Field(default=None, max_length=300, description="Free-form email.")
    language: str | None = Field(
        default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$", description="Override, e.g. es-MX."
    )
    to: str | None = Field(
        default=None, max_length=320, description="One of the contact's addresses; default: main."
    )
    variables: dict[str, str] = Field(default_factory=dict, max_length=20)


class SendOut(BaseModel):
    outcome: str
    reason: str
    message: str
    channel: str
    message_id: str | None
    interaction_id: str | None
    provider_id: str | None
    status: str | None
    to: str | None
    language: str | None
    template: str | None
    subject: str | None
    content: str | None
    next_allowed_at: dt.datetime | None


class MessageOut(BaseModel):
    id: str
    channel: str
    direction: str
    status: str
    template: str | None
    language: str | None
    summary: str
    subject: str | None
    content: str | None
    to: str
    sender: str = Field(description="The address it was sent from (or the debtor's, inbound).")
    contact_id: str | None
    interaction_id: str | None
    provider_id: str | None
    error_code: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class MessagePage(BaseModel):
    items: list[MessageOut]
    total: int
    page: int
    page_size: int


class PageQuery(BaseModel):
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=25, ge=1, le=200)


class DomainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=4, max_length=253, description="e.g. mail.example.com")
    region: str | None = Field(default=None, description=", ".join(domains.REGIONS))


class DnsRecordOut(BaseModel):
    record: str
    name: str
    type: str
    value: str
    ttl: str | None
    status: str | None
    priority: int | None


class DomainOut(BaseModel):
    id: str
    domain: str
    status: str
    verified: bool
    region: str | None
    records: list[DnsRecordOut] = Field(description="Add these to the domain's DNS, then verify.")
    credential_mode: str
    created_at: dt.datetime
    checked_at: dt.datetime | None
    verified_at: dt.datetime | None


class DomainList(BaseModel):
    domains: list[DomainOut]


async def _account_id(conn: AsyncConnection, org_id: str, ref: str) -> str:
    """The account's id from its id or its external id (another org's: NotFound)."""
    found = (
        await conn.execute(
            select(accounts.c.id).where(
                accounts.c.org_id == org_id,
                or_(accounts.c.id == ref, accounts.c.external_id == ref),
                or_(accounts.c.id == ref, accounts.c.external_id == ref),
            )
        )
    ).scalar()
    if found is None:
        raise NotFound("account")
    return str(found)


def messaging_of(request: Request) -> Messaging:
    messaging: Messaging = request.app.state.messaging
    return messaging


def _send_out(result: SendResult) -> SendOut:
    return SendOut(
        outcome=result.outcome.value,
        reason=str(result.reason),
        message=result.message,
        channel=result.channel,
        message_id=result.message_id,
        interaction_id=result.interaction_id,
        provider_id=result.provider_id,
        status=result.status,
        to=result.to,
        language=result.language,
        template=result.template,
        subject=result.subject,
        content=result.content,
        next_allowed_at=result.next_allowed_at,
    )


def _message_out(item: MessageView) -> MessageOut:
    return MessageOut(
        id=item.id,
        channel=item.channel,
        direction=item.direction,
        status=item.status,
        template=item.template,
        language=item.language,
        summary=item.summary,
        subject=item.subject,
        content=item.content,
        to=item.to,
        sender=item.from_,
        contact_id=item.contact_id,
        interaction_id=item.interaction_id,
        provider_id=item.provider_id,
        error_code=item.error_code,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _domain_out(item: domains.EmailDomain) -> DomainOut:
    return DomainOut(
        id=item.id,
        domain=item.name,
        status=item.status,
        verified=item.verified,
        region=item.region,
        records=[DnsRecordOut.model_validate(vars_of(r)) for r in item.records],
        credential_mode=item.credential_mode,
        created_at=item.created_at,
        checked_at=item.checked_at,
        verified_at=item.verified_at,
    )


def vars_of(record: domains.DnsRecord) -> dict[str, Any]:
    return {f: getattr(record, f) for f in record.__slots__}


@api.route(
    "POST",
    "/api/accounts/{account_id}/messages",
    role="operator",
    summary="Send an SMS, WhatsApp message or email to the account's contact",
    tag=TAG,
    body=SendIn,
    response=SendOut,
    status=201,
)
async def send(call: Call) -> Response:
    async with call.db.read() as conn:
        account_id = await _account_id(conn, call.org_id, call.path["account_id"])
    body: SendIn = call.body
    messaging = messaging_of(call.request)
    result = await send_message(
        call.db,
        messaging,
        MessageRequest(
            org_id=call.org_id,
            account_id=account_id,
            channel=body.channel,
            idempotency_key=body.idempotency_key,
            actor=call.actor,
            template=body.template,
            text=body.text,
            subject=body.subject,
            language=body.language,
            to=body.to,
            variables=body.variables,
        ),
        at=messaging.clock(),
    )
    return render(_send_out(result), STATUS_OF[result.outcome])


@api.route(
    "GET",
    "/api/accounts/{account_id}/messages",
    role="viewer",
    summary="The account's messages on every channel, newest first",
    tag=TAG,
    query=PageQuery,
    response=MessagePage,
)
async def list_messages(call: Call) -> MessagePage:
    async with call.db.read() as conn:
        account_id = await _account_id(conn, call.org_id, call.path["account_id"])
        items, total = await account_messages(
            conn,
            org_id=call.org_id,
            account_id=account_id,
            page=call.query.page,
            page_size=call.query.page_size,
        )
    return MessagePage(
        items=[_message_out(i) for i in items],
        total=total,
        page=call.query.page,
        page_size=call.query.page_size,
    )


@api.route(
    "POST",
    "/api/email/domains",
    role="admin",
    summary="Register a sending domain; the answer lists the DNS records to add",
    tag=TAG,
    body=DomainIn,
    response=DomainOut,
    status=201,
)
async def register_domain(call: Call) -> DomainOut:
    try:
        found = await domains.register_domain(
            call.db,
            messaging_of(call.request),
            org_id=call.org_id,
            name=call.body.domain,
            region=call.body.region,
            actor=call.actor,
        )
    except (ProviderRefused, ProviderUnavailable) as exc:
        raise ProviderError(f"Resend did not register the domain: {exc}") from None
    return _domain_out(found)


@api.route(
    "GET",
    "/api/email/domains",
    role="viewer",
    summary="Your sending domains and their DNS records",
    tag=TAG,
    response=DomainList,
)
async def list_domains(call: Call) -> DomainList:
    async with call.db.read() as conn:
        found = await domains.list_domains(conn, call.org_id)
    return DomainList(domains=[_domain_out(d) for d in found])


@api.route(
    "GET",
    "/api/email/domains/{domain_id}",
    role="viewer",
    summary="One sending domain, its DNS records and verification state",
    tag=TAG,
    response=DomainOut,
)
async def get_domain(call: Call) -> DomainOut:
    async with call.db.read() as conn:
        return _domain_out(await domains.get_domain(conn, call.org_id, call.path["domain_id"]))


@api.route(
    "POST",
    "/api/email/domains/{domain_id}/verify",
    role="admin",
    summary="Check the domain's DNS records now (email is sent only from a verified domain)",
    tag=TAG,
    response=DomainOut,
)
async def verify_domain(call: Call) -> DomainOut:
    try:
        found = await domains.verify_domain(
            call.db,
            messaging_of(call.request),
            org_id=call.org_id,
            domain_id=call.path["domain_id"],
            actor=call.actor,
        )
    except (ProviderRefused, ProviderUnavailable) as exc:
        raise ProviderError(f"Resend did not verify the domain: {exc}") from None
    return _domain_out(found)


@api.route(
    "GET",
    "/api/org/messaging",
    role="viewer",
    summary="Your messaging settings: senders, approved WhatsApp templates, own wording",
    tag=TAG,
    response=MessagingSettings,
)
async def get_messaging(call: Call) -> MessagingSettings:
    return await get_messaging_settings(call.db, call.org_id)


@api.route(
    "PUT",
    "/api/org/messaging",
    role="admin",
    summary="Replace your messaging settings (each text is checked before it is stored)",
    tag=TAG,
    body=MessagingSettings,
    response=MessagingSettings,
)
async def put_messaging(call: Call) -> MessagingSettings:
    return await set_messaging_settings(call.db, call.org_id, call.body, actor=call.actor)
