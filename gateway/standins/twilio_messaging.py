"""Twilio's Messaging side: the Messages and Content resources, the handset, the callbacks.

Why: parley sends SMS and WhatsApp through the twilio SDK, and learns their fate from
status callbacks; replies reach it as inbound-message webhooks. This part of the
stand-in accepts what the SDK sends (``Messages.json`` form posts, ``content_sid`` +
``content_variables`` JSON, the Content API's JSON), answers the Message resource
JSON the SDK parses, and plays each message's fate as Twilio reports it (reference
``twilio-resend.md`` §5): ``queued`` from ``create``, then signed callbacks
``sent`` -> ``delivered`` (-> ``read`` on WhatsApp) or ``failed``/``undelivered``
with an ``ErrorCode``. WhatsApp free-form text outside the 24-hour window after the
user's last message fails with 63016, as Twilio's does.

Test-facing API (through ``TwilioStandIn.messaging``)::

    messaging.recipients["+34600..."] = Recipient(outcome="undelivered", error_code="30005")
    message = await messaging.wait_for_message()           # what parley sent
    await messaging.send_status(message.sid, "sent")       # a callback, by hand
    await messaging.inject_inbound("+34600...", "+1555...", "STOP", url)  # a reply
    content = messaging.add_content("debt_summary_es", "Hola {{1}}", language="es")

Every message, callback and inbound post is recorded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.standins.twilio_records import WebhookRecord
from gateway.standins.twilio_resources import API_VERSION, TwilioApiError, new_sid, rfc2822
from gateway.standins.twilio_webhooks import WebhookClient
from gateway.standins.waiting import poll_until

Form = Mapping[str, list[str]]
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
WINDOW = dt.timedelta(hours=24)
MAX_BODY = 1600


@dataclass(slots=True)
class Recipient:
    """How a handset answers: the final outcome, and whether the user reads it."""

    outcome: str = "delivered"  # delivered | undelivered | failed
    error_code: str | None = None
    read: bool = False
    delay_s: float = 0.05


@dataclass(slots=True)
class Content:
    sid: str
    account_sid: str
    friendly_name: str
    language: str
    body: str
    variables: dict[str, str]

    def json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "friendly_name": self.friendly_name,
            "language": self.language,
            "variables": self.variables,
            "types": {"twilio/text": {"body": self.body}},
            "url": f"https://content.twilio.com/v1/Content/{self.sid}",
            "date_created": dt.datetime.now(dt.UTC).isoformat(),
            "date_updated": dt.datetime.now(dt.UTC).isoformat(),
            "links": {},
        }

    def render(self, values: Mapping[str, str]) -> str:
        return re.sub(r"\{\{(\d+)\}\}", lambda m: values.get(m.group(1), m.group(0)), self.body)


@dataclass(slots=True)
class MessageRecord:
    """A message parley created, and everything reported about it."""

    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    status: str
    request: dict[str, str]
    content_sid: str | None = None
    content_variables: dict[str, str] = field(default_factory=dict)
    status_callback: str | None = None
    error_code: str | None = None
    date_created: str = field(default_factory=rfc2822)
    callbacks: list[WebhookRecord] = field(default_factory=list)

    @property
    def channel(self) -> str:
        return "whatsapp" if self.to.startswith("whatsapp:") else "sms"

    def json(self) -> dict[str, Any]:
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": self.date_created,
            "date_sent": None,
            "date_updated": rfc2822(),
            "direction": "outbound-api",
            "error_code": int(self.error_code) if self.error_code else None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(max(1, -(-len(self.body) // 153))),
            "price": None,
            "price_unit": "USD",
            "status": self.status,
            "subresource_uris": {"media": f"{base}/Media.json"},
            "to": self.to,
            "uri": f"{base}.json",
        }


class TwilioMessaging:
    """The messaging backend of :class:`~gateway.standins.twilio_standin.TwilioStandIn`."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = tokens  # account SID -> auth token (callbacks are signed with it)
        self.webhooks: WebhookClient | None = None  # set when the stand-in starts
        self.messages: dict[str, MessageRecord] = {}
        self.contents: dict[str, Content] = {}
        self.recipients: dict[str, Recipient] = {}
        self.default_recipient = Recipient()
        #: Numbers that replied STOP at the carrier: an SMS to them is refused (21610).
        self.unsubscribed: set[str] = set()
        self.inbound: list[WebhookRecord] = []
        self._last_inbound: dict[tuple[str, str], dt.datetime] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- REST -------------------------------------------------------------------------

    def create_message(self, account_sid: str, form: Form) -> dict[str, Any]:
        one = {k: v[-1] for k, v in form.items() if v}
        to, from_ = one.get("To", ""), one.get("From", "")
        if not to:
            raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
        if not from_ and not one.get("MessagingServiceSid"):
            raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
        whatsapp = to.startswith("whatsapp:")
        if whatsapp != from_.startswith("whatsapp:"):
            raise TwilioApiError(
                400, 21910, "Invalid From and To pair. From and To should be of the same channel"
            )
        for name, value in (("To", to), ("From", from_)):
            if not E164.match(value.removeprefix("whatsapp:")):
                raise TwilioApiError(400, 21211, f"Invalid '{name}' Phone Number: {value}")
        if not whatsapp and to in self.unsubscribed:
            raise TwilioApiError(400, 21610, "Attempt to send to unsubscribed recipient")
        body, content_sid = one.get("Body", ""), one.get("ContentSid")
        variables: dict[str, str] = {}
        if content_sid:
            content = self.contents.get(content_sid)
            if content is None or content.account_sid != account_sid:
                raise TwilioApiError(400, 21655, f"The ContentSid {content_sid} is invalid")
            try:
                parsed = orjson.loads(one.get("ContentVariables") or "{}")
            except orjson.JSONDecodeError:
                raise TwilioApiError(
                    400, 21656, "The ContentVariables Parameter is invalid"
                ) from None
            if not isinstance(parsed, dict):
                raise TwilioApiError(400, 21656, "The ContentVariables Parameter is invalid")
            variables = {str(k): str(v) for k, v in parsed.items()}
            body = content.render(variables)
        elif not body:
            raise TwilioApiError(400, 21619, "A text message body or media urls must be specified.")
        if len(body) > MAX_BODY:
            raise TwilioApiError(
                400, 21617, "The concatenated message body exceeds 1600 characters."
            )
        callback = one.get("StatusCallback")
        record = MessageRecord(
            sid=new_sid("SM"),
            account_sid=account_sid,
            to=to,
            from_=from_,
            body=body,
            status="queued",
            request=one,
            content_sid=content_sid,
            content_variables=variables,
            status_callback=callback,
        )
        self.messages[record.sid] = record
        self._launch(self._play(record, free_form=whatsapp and not content_sid))
        return record.json()

    def fetch_message(self, account_sid: str, sid: str) -> dict[str, Any]:
        record = self.messages.get(sid)
        if record is None or record.account_sid != account_sid:
            raise TwilioApiError(
                404, 20404, f"The requested resource /Messages/{sid}.json was not found"
            )
        return record.json()

    def create_content(self, account_sid: str, data: Mapping[str, Any]) -> dict[str, Any]:
        types = data.get("types") if isinstance(data.get("types"), dict) else {}
        text = types.get("twilio/text") if isinstance(types, dict) else None
        body = text.get("body") if isinstance(text, dict) else None
        if not data.get("friendly_name") or not data.get("language") or not body:
            raise TwilioApiError(
                400, 20001, "friendly_name, language and types.twilio/text.body are required"
            )
        variables = data.get("variables") if isinstance(data.get("variables"), dict) else {}
        return self.add_content(
            str(data["friendly_name"]),
            str(body),
            str(data["language"]),
            account_sid,
            {str(k): str(v) for k, v in (variables or {}).items()},
        ).json()

    def fetch_content(self, account_sid: str, sid: str) -> dict[str, Any]:
        content = self.contents.get(sid)
        if content is None or content.account_sid != account_sid:
            raise TwilioApiError(404, 20404, f"The requested resource /Content/{sid} was not found")
        return content.json()

    # --- test-facing ------------------------------------------------------------------

    def add_content(
        self,
        friendly_name: str,
        body: str,
        language: str,
        account_sid: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> Content:
        """An approved template (what WhatsApp templates are at Twilio)."""
        content = Content(
            new_sid("HX"),
            account_sid or next(iter(self._tokens)),
            friendly_name,
            language,
            body,
            variables or {},
        )
        self.contents[content.sid] = content
        return content

    async def wait_for_message(self, index: int = 0, timeout_s: float = 10.0) -> MessageRecord:
        await poll_until(lambda: len(self.messages) > index, timeout_s)
        return list(self.messages.values())[index]

    async def wait_for_callbacks(
        self, sid: str, count: int, timeout_s: float = 10.0
    ) -> list[WebhookRecord]:
        record = self.messages[sid]
        await poll_until(lambda: len(record.callbacks) >= count, timeout_s)
        return record.callbacks

    async def idle(self, timeout_s: float = 10.0) -> None:
        """Wait until every scripted callback has been sent."""
        await poll_until(lambda: not self._tasks, timeout_s)

    async def send_status(
        self, sid: str, status: str, error_code: str | None = None, **extra: str
    ) -> WebhookRecord:
        """Post one signed status callback for a message, now (any order you like)."""
        record = self.messages[sid]
        params = {
            "MessageSid": record.sid,
            "SmsSid": record.sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": record.account_sid,
            "From": record.from_,
            "To": record.to,
            "ApiVersion": API_VERSION,
            **extra,
        }
        if error_code:
            params["ErrorCode"] = error_code
        if record.channel == "whatsapp":
            params["ChannelPrefix"] = "whatsapp"
            if status == "read":
                params["EventType"] = "READ"
        record.status = status
        if not record.status_callback:
            sent = WebhookRecord("message-status", "POST", "", "", params, "")
        else:
            sent = await self._client().send(
                "message-status",
                record.status_callback,
                params,
                auth_token=self._tokens[record.account_sid],
            )
        record.callbacks.append(sent)
        return sent

    async def inject_inbound(
        self,
        from_: str,
        to: str,
        body: str,
        url: str,
        *,
        account_sid: str | None = None,
        profile_name: str = "Debtor",
    ) -> WebhookRecord:
        """A person texts ``to`` (``whatsapp:`` addresses for WhatsApp): Twilio posts
        the signed inbound-message webhook to ``url`` and the WhatsApp window opens."""
        account = account_sid or next(iter(self._tokens))
        sid = new_sid("SM")
        params = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": account,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
        }
        if from_.startswith("whatsapp:"):
            params |= {"ProfileName": profile_name, "WaId": from_.removeprefix("whatsapp:+")}
            self._last_inbound[(from_, to)] = dt.datetime.now(dt.UTC)
        sent = await self._client().send(
            "message-inbound", url, params, auth_token=self._tokens[account]
        )
        self.inbound.append(sent)
        return sent

    # --- internals --------------------------------------------------------------------

    async def _play(self, record: MessageRecord, *, free_form: bool) -> None:
        person = self.recipients.get(record.to.removeprefix("whatsapp:"), self.default_recipient)
        await asyncio.sleep(person.delay_s)
        if free_form:
            opened = self._last_inbound.get((record.to, record.from_))
            if opened is None or dt.datetime.now(dt.UTC) - opened > WINDOW:
                record.error_code = "63016"
                await self.send_status(record.sid, "failed", "63016")
                return
        await self.send_status(record.sid, "sent")
        await asyncio.sleep(person.delay_s)
        if person.outcome != "delivered":
            record.error_code = person.error_code or "30003"
            await self.send_status(record.sid, person.outcome, record.error_code)
            return
        await self.send_status(record.sid, "delivered")
        if person.read and record.channel == "whatsapp":
            await asyncio.sleep(person.delay_s)
            await self.send_status(record.sid, "read")

    def _client(self) -> WebhookClient:
        if self.webhooks is None:
            raise RuntimeError("the Twilio stand-in is not started")
        return self.webhooks

    def _launch(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
