"""Sending one message to an account's contact: every rule, in order, then the provider.

1. The idempotency key: a message already stored under it is the answer (nothing is
   sent again, whatever the repeat asks).
2. The account and its contact, in the caller's organization only.
3. The compliance check (:func:`backoffice.compliance.check.may_contact`) for this
   channel now: opt-out, do-not-contact numbers, account status, days and hours.
4. The address: the contact's own, for the channel.
5. The wording: the template in the effective language, rendered; or the free text.
6. Channel rules: WhatsApp free-form only inside the 24 h window after the debtor's
   last message (a template otherwise, by its approved content SID); email only from
   the organization's verified domain; a sender number for SMS and WhatsApp.
7. The message and its interaction are written (``pending``), claiming the key, and
   committed; then the provider is called and its answer stored.

Steps 1-6 refuse with a :class:`~backoffice.messaging.models.SendResult` that says
why; nothing is written and nothing reaches the provider. A provider refusal after
step 7 marks the message failed (a hard failure: the outbox hears of it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.compliance.check import may_contact
from backoffice.compliance.phones import InvalidPhone, to_e164
from backoffice.errors import FieldError, InvalidInput, NotFound
from backoffice.messaging import delivery, domains, store
from backoffice.messaging.facts import AccountFacts, account_facts
from backoffice.messaging.models import MessageRequest, Outcome, Reason, SendResult
from backoffice.messaging.provider_accounts import (
    messaging_settings,
    resend_account,
    twilio_account,
)
from backoffice.messaging.providers import (
    Accepted,
    Messaging,
    ProviderRefused,
    ProviderUnavailable,
)
from backoffice.messaging.templates import Rendered, TemplateError, Wording, choose, render
from backoffice.orgs.service import get_organization
from backoffice.store.db import Database
from backoffice.vault import VaultError

log = structlog.get_logger(__name__)

CHANNELS = ("sms", "whatsapp", "email")
MAX_TEXT = 1600  # Twilio's body limit; email free text is held to the same
MAX_KEY = 128


@dataclass(frozen=True, slots=True)
class _Plan:
    """A message that passed every rule, ready to be stored and sent."""

    facts: AccountFacts
    to: str
    from_: str
    language: str
    rendered: Rendered | None
    text: str
    subject: str | None
    content_sid: str | None
    credential_mode: str
    provider: str


def check_request(request: MessageRequest) -> None:
    """Raises: InvalidInput naming each bad field."""
    errors = []
    if request.channel not in CHANNELS:
        errors.append(FieldError("channel", f"must be one of {', '.join(CHANNELS)}"))
    if not request.idempotency_key.strip() or len(request.idempotency_key) > MAX_KEY:
        errors.append(FieldError("idempotency_key", f"1 to {MAX_KEY} characters"))
    if (request.template is None) == (request.text is None):
        errors.append(FieldError("template", "give either a template or a text"))
    if request.text is not None and not (0 < len(request.text.strip()) <= MAX_TEXT):
        errors.append(FieldError("text", f"1 to {MAX_TEXT} characters"))
    if request.text is not None and request.channel == "email" and not request.subject:
        errors.append(FieldError("subject", "a free-form email needs a subject"))
    if errors:
        raise InvalidInput(errors, "invalid message")


async def send_message(
    db: Database, messaging: Messaging, request: MessageRequest, *, at: dt.datetime
) -> SendResult:
    """Send ``request`` now (``at``: the instant the compliance check reads).

    Returns:
        The outcome; refusals and provider failures are results, not exceptions.

    Raises:
        InvalidInput: the request itself is malformed (fields named).
    """
    check_request(request)
    key = request.idempotency_key.strip()
    async with db.transaction() as conn:
        existing = await store.by_key(conn, request.org_id, key)
        if existing is not None:
            return _duplicate(existing)
        try:
            planned = await _plan(conn, messaging, request, at)
        except VaultError:
            planned = SendResult(
                Outcome.REFUSED,
                Reason.CREDENTIALS_UNREADABLE,
                "The organization's own provider keys cannot be read with this server's "
                "secret; an admin must enter them again.",
                request.channel,
            )
        if isinstance(planned, SendResult):
            log.info(
                "message.refused",
                org_id=request.org_id,
                account_id=request.account_id,
                channel=request.channel,
                reason=planned.reason,
            )
            return planned
    try:
        async with db.transaction() as conn:
            message_id, interaction_id = await store.insert_message(
                conn, _row(request, key, planned, at)
            )
    except IntegrityError:  # the same key, claimed a moment ago by a concurrent send
        async with db.read() as conn:
            existing = await store.by_key(conn, request.org_id, key)
        if existing is None:
            raise
        return _duplicate(existing)
    result = SendResult(
        outcome=Outcome.SENT,
        reason=Reason.SENT,
        message="",
        channel=request.channel,
        message_id=message_id,
        interaction_id=interaction_id,
        to=planned.to,
        language=planned.language,
        template=request.template,
        subject=planned.subject,
        content=planned.text,
    )
    return await _deliver(db, messaging, request, planned, result, key)


async def _plan(
    conn: AsyncConnection, messaging: Messaging, request: MessageRequest, at: dt.datetime
) -> _Plan | SendResult:
    channel = request.channel
    org = await get_organization(conn, request.org_id)

    def refuse(reason: str, message: str, **extra: Any) -> SendResult:
        return SendResult(Outcome.REFUSED, reason, message, channel, **extra)

    try:
        facts = await account_facts(conn, org, request.account_id)
    except NotFound:
        return refuse("no_such_account", "No such account in this organization.")
    decision = await may_contact(
        conn,
        org_id=org.id,
        contact_id=facts.contact.id,
        account_id=facts.account_id,
        channel=channel,
        at=at,
    )
    if not decision.allowed:
        return refuse(
            decision.reason.value, decision.message, next_allowed_at=decision.next_allowed_at
        )
    to = _address(facts, channel, request.to)
    if isinstance(to, SendResult):
        return to
    language = facts.language(request.language).tag
    settings = messaging_settings(org)
    rendered: Rendered | None = None
    if request.template is not None:
        try:
            wording = choose(request.template, channel, language, settings.get("templates"))
            # the account's facts win: a caller's variable never rewrites the balance
            rendered = render(wording, {**request.variables, **facts.variables(wording.language)})
        except TemplateError as exc:
            return refuse(Reason.TEMPLATE, f"The message cannot be written: {exc}.")
        text, subject = rendered.body, rendered.subject
    else:
        text, subject = (request.text or "").strip(), request.subject
    content_sid: str | None = None
    if channel == "email":
        domain = await domains.sending_domain(conn, org.id)
        if domain is None:
            return refuse(
                Reason.NO_VERIFIED_DOMAIN,
                "Email cannot be sent yet: the organization has no verified sending domain.",
            )
        account = await resend_account(conn, messaging.config, org.id)
        local = settings.get("email_local_part") or messaging.config.email_local_part
        sender = f"{settings.get('email_from_name') or org.name} <{local}@{domain}>"
        return _Plan(
            facts, to, sender, language, rendered, text, subject, None, account.mode, "resend"
        )
    twilio = await twilio_account(conn, messaging.config, org)
    if not twilio.sender(channel):
        return refuse(
            Reason.NO_SENDER,
            f"No {channel.upper()} sender number is configured for the organization.",
        )
    if channel == "whatsapp":
        opened = await store.window_opened_at(conn, org.id, to)
        if rendered is None and not store.window_open(opened, at):
            return refuse(
                Reason.WINDOW_CLOSED,
                "Free-form WhatsApp text can only be sent within 24 hours of the debtor's "
                "last WhatsApp message; send an approved template instead.",
            )
        if rendered is not None and not store.window_open(opened, at):
            content_sid = _content_sid(settings, rendered.wording)
            if content_sid is None:
                return refuse(
                    Reason.NO_WHATSAPP_TEMPLATE,
                    f"The WhatsApp window is closed and no approved template (content SID) is "
                    f"configured for {rendered.wording.template} in {rendered.wording.language}.",
                )
    return _Plan(
        facts,
        to,
        twilio.sender(channel),
        language,
        rendered,
        text,
        subject,
        content_sid,
        twilio.mode,
        "twilio",
    )


def _content_sid(settings: dict[str, Any], wording: Wording) -> str | None:
    table = (settings.get("whatsapp_content_sids") or {}).get(wording.template) or {}
    for tag in (wording.language, wording.language.split("-")[0]):
        sid = table.get(tag)
        if isinstance(sid, str) and sid.startswith("HX"):
            return sid
    return None


def _address(facts: AccountFacts, channel: str, wanted: str | None) -> str | SendResult:
    if channel == "email":
        own = [facts.contact.email] if facts.contact.email else []
    elif channel == "whatsapp":
        numbers = facts.numbers()
        own = ([facts.contact.whatsapp] if facts.contact.whatsapp else []) + numbers
    else:
        own = facts.numbers()
    own = list(dict.fromkeys(own))
    if wanted is not None:
        if channel != "email":
            try:
                wanted = to_e164(wanted, facts.org.country)
            except InvalidPhone:
                pass  # not a number at all: refused below as not the contact's
        if wanted.strip().lower() not in [a.lower() for a in own]:
            return SendResult(
                Outcome.REFUSED,
                Reason.NOT_CONTACTS_ADDRESS,
                f"{wanted} is not one of this account's contact addresses for {channel}.",
                channel,
            )
        return wanted.strip()
    if not own:
        what = "email address" if channel == "email" else "phone number"
        return SendResult(
            Outcome.REFUSED, Reason.NO_ADDRESS, f"The contact has no {what} for {channel}.", channel
        )
    return own[0]


def _row(request: MessageRequest, key: str, plan: _Plan, at: dt.datetime) -> dict[str, Any]:
    return {
        "created_at": at,
        "org_id": request.org_id,
        "account_id": plan.facts.account_id,
        "contact_id": plan.facts.contact.id,
        "channel": request.channel,
        "direction": "outbound",
        "provider": plan.provider,
        "credential_mode": plan.credential_mode,
        "idempotency_key": key,
        "to_address": plan.to,
        "from_address": plan.from_,
        "template": request.template,
        "language": plan.language,
        "content_sid": plan.content_sid,
        "subject": plan.subject,
        "body": plan.text,
        "status": "pending",
        "actor": request.actor[:100],
    }


async def _deliver(
    db: Database,
    messaging: Messaging,
    request: MessageRequest,
    plan: _Plan,
    result: SendResult,
    key: str,
) -> SendResult:
    org_id = request.org_id
    failure: ProviderRefused | ProviderUnavailable | None = None
    accepted: Accepted | None = None
    try:
        if plan.provider == "resend":
            async with db.read() as conn:
                account = await resend_account(conn, messaging.config, org_id)
            params: dict[str, Any] = {
                "from": plan.from_,
                "to": [plan.to],
                "subject": plan.subject or "",
                "text": plan.text,
                "tags": [{"name": "parley_message", "value": result.message_id or ""}],
            }
            if plan.rendered is not None:
                params["html"] = plan.rendered.html()
            accepted = await messaging.send_email(account, params, _provider_key(org_id, key))
        else:
            async with db.read() as conn:
                org = await get_organization(conn, org_id)
                twilio = await twilio_account(conn, messaging.config, org)
            accepted = await messaging.send_twilio(
                twilio,
                channel=request.channel,
                to=plan.to,
                body=None if plan.content_sid else plan.text,
                content_sid=plan.content_sid,
                content_variables=plan.rendered.content_variables if plan.rendered else None,
                status_callback=messaging.status_callback_url(org_id, result.message_id or ""),
            )
    except (ProviderRefused, ProviderUnavailable) as exc:
        failure = exc
    async with db.transaction() as conn:
        row = await store.by_id(conn, org_id, result.message_id or "", for_update=True)
        assert row is not None  # written above, in its own committed transaction
        if accepted is not None:
            await delivery.accepted(conn, row, accepted.provider_id, accepted.status)
        else:
            code = failure.code if isinstance(failure, ProviderRefused) else "unavailable"
            text = failure.message if isinstance(failure, ProviderRefused) else str(failure)
            await delivery.fail_now(conn, row, code, text)
    log.info(
        "message.sent" if accepted else "message.send_failed",
        org_id=org_id,
        account_id=request.account_id,
        channel=request.channel,
        message_id=result.message_id,
        provider=plan.provider,
        credential_mode=plan.credential_mode,
    )
    if accepted is not None:
        how = "an approved WhatsApp template" if plan.content_sid else request.channel
        return replace(
            result,
            provider_id=accepted.provider_id,
            status=accepted.status,
            message=f"The message was sent by {how} to {_masked(plan.to)}.",
        )
    if isinstance(failure, ProviderRefused):
        return replace(
            result,
            outcome=Outcome.FAILED,
            reason=Reason.PROVIDER_REFUSED,
            status="failed",
            message=f"The provider refused the message ({failure.code}): {failure.message}",
        )
    return replace(
        result,
        outcome=Outcome.FAILED,
        reason=Reason.PROVIDER_UNAVAILABLE,
        status="failed",
        message="The message could not be sent: the provider did not answer.",
    )


def _duplicate(row: Any) -> SendResult:
    return SendResult(
        outcome=Outcome.DUPLICATE,
        reason=Reason.DUPLICATE,
        message=f"This message was already sent (status {row.status}); it was not sent again.",
        channel=row.channel,
        message_id=row.id,
        interaction_id=row.interaction_id,
        provider_id=row.provider_id,
        status=row.status,
        to=row.to_address,
        language=row.language,
        template=row.template,
        subject=row.subject,
        content=row.body,
    )


def _provider_key(org_id: str, key: str) -> str:
    """The key Resend deduplicates on: unique per organization, never the raw key."""
    return hashlib.sha256(f"{org_id}:{key}".encode()).hexdigest()


def _masked(address: str) -> str:
    """``+34•••••4567`` / ``a•••@example.com``: enough for a person to recognise it."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}•••@{domain}"
    return f"{address[:3]}•••{address[-4:]}"
