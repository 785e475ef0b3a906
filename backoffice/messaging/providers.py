"""The providers, through their SDKs only: twilio for SMS and WhatsApp, resend for email.

One :class:`Messaging` per process holds the HTTP connection pools and the
configuration; each call takes the provider account to use (managed or the
organization's own, :mod:`.provider_accounts`). Failures come back as two
exceptions with one meaning each: :class:`ProviderRefused` (the provider answered
and said no: a bad number, an unverified domain, error 63016) and
:class:`ProviderUnavailable` (no usable answer at all).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
import resend
import structlog
from resend.exceptions import ResendError
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from backoffice.messaging import resend_http
from backoffice.messaging.provider_accounts import MessagingConfig, ResendAccount, TwilioAccount
from backoffice.messaging.twilio_http import TwilioHttp

log = structlog.get_logger(__name__)

STATUS_PATH = "/twilio/messages/status"


class ProviderRefused(Exception):
    """The provider refused the request; ``code`` is its own error code."""

    def __init__(self, provider: str, code: str, message: str) -> None:
        super().__init__(f"{provider} refused ({code}): {message}")
        self.provider = provider
        self.code = code
        self.message = message


class ProviderUnavailable(Exception):
    """The provider could not be reached or gave no usable answer."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider took the message: its id, and the status it reported."""

    provider_id: str
    status: str


def channel_address(channel: str, number: str) -> str:
    """``whatsapp:+34...`` for WhatsApp (both ends carry the prefix, reference §5.1)."""
    return f"whatsapp:{number}" if channel == "whatsapp" else number


class Messaging:
    """The process's messaging clients. Create inside the running loop; ``aclose`` it."""

    def __init__(
        self, config: MessagingConfig, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.config = config
        # Business time (compliance hours, the WhatsApp window); tests pin it.
        self.clock: Callable[[], dt.datetime] = clock or (lambda: dt.datetime.now(dt.UTC))
        self._twilio_http: TwilioHttp | None = None
        self._resend_http: resend_http.ResendHttp | None = None

    # --- Twilio -----------------------------------------------------------------------

    def status_callback_url(self, org_id: str, message_id: str) -> str:
        """Where Twilio reports a message's deliveries (signed with the account's token):
        the organization tells whose token to check, the id which message it is."""
        return f"{self.config.public_url}{STATUS_PATH}?org={org_id}&message={message_id}"

    def twilio_client(self, account: TwilioAccount) -> Client:
        if self._twilio_http is None:
            self._twilio_http = TwilioHttp(self.config.twilio_api_url)
        return Client(account.account_sid, account.auth_token, http_client=self._twilio_http)

    async def send_twilio(
        self,
        account: TwilioAccount,
        *,
        channel: str,
        to: str,
        body: str | None = None,
        content_sid: str | None = None,
        content_variables: dict[str, str] | None = None,
        status_callback: str,
    ) -> Accepted:
        """Send an SMS or WhatsApp message: free-form ``body`` or template ``content_sid``.

        Raises:
            ProviderRefused: Twilio answered with an error (``code`` is Twilio's).
            ProviderUnavailable: Twilio could not be reached.
        """
        extra: dict[str, Any] = {}
        if content_sid:
            extra["content_sid"] = content_sid
            extra["content_variables"] = json.dumps(content_variables or {}, ensure_ascii=False)
        else:
            extra["body"] = body
        try:
            message = await self.twilio_client(account).messages.create_async(
                to=channel_address(channel, to),
                from_=channel_address(channel, account.sender(channel)),
                status_callback=status_callback,
                **extra,
            )
        except TwilioRestException as exc:
            raise ProviderRefused("twilio", str(exc.code or exc.status), str(exc.msg)) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ProviderUnavailable(f"Twilio could not be reached: {exc}") from exc
        return Accepted(str(message.sid), str(message.status or "queued"))

    # --- Resend -----------------------------------------------------------------------

    def _resend(self) -> None:
        if self._resend_http is None:
            self._resend_http = resend_http.ResendHttp()
        resend_http.install(self._resend_http)

    async def _call_resend(self, account: ResendAccount, call: Any) -> Any:
        if not account.api_key:
            raise ProviderRefused("resend", "missing_api_key", "no Resend API key is configured")
        self._resend()
        try:
            with resend_http.account(account.api_key, self.config.resend_api_url):
                return await call()
        except ResendError as exc:
            if exc.error_type == "HttpClientError" or str(exc.code) in ("500", "502", "503"):
                raise ProviderUnavailable(f"Resend could not be reached: {exc.message}") from exc
            raise ProviderRefused("resend", str(exc.error_type or exc.code), exc.message) from exc

    async def send_email(
        self, account: ResendAccount, params: dict[str, Any], idempotency_key: str
    ) -> Accepted:
        """Send one email; Resend deduplicates on ``idempotency_key`` for 24 h.

        Raises:
            ProviderRefused, ProviderUnavailable.
        """
        options: resend.Emails.SendOptions = {"idempotency_key": idempotency_key}
        sent = await self._call_resend(
            account,
            lambda: resend.Emails.send_async(cast(resend.Emails.SendParams, params), options),
        )
        return Accepted(str(sent["id"]), "queued")

    async def create_domain(
        self, account: ResendAccount, name: str, region: str | None
    ) -> dict[str, Any]:
        """Register a sending domain; the answer lists the DNS records to add.

        Raises:
            ProviderRefused, ProviderUnavailable.
        """
        params: dict[str, Any] = {"name": name}
        if region:
            params["region"] = region
        created = await self._call_resend(
            account,
            lambda: resend.Domains.create_async(cast(resend.Domains.CreateParams, params)),
        )
        return dict(created)

    async def get_domain(self, account: ResendAccount, domain_id: str) -> dict[str, Any]:
        """Raises: ProviderRefused, ProviderUnavailable."""
        found = await self._call_resend(account, lambda: resend.Domains.get_async(domain_id))
        return dict(found)

    async def verify_domain(self, account: ResendAccount, domain_id: str) -> None:
        """Ask Resend to check the DNS records now (the answer comes later: poll
        :meth:`get_domain`). Raises: ProviderRefused, ProviderUnavailable."""
        await self._call_resend(account, lambda: resend.Domains.verify_async(domain_id))

    async def aclose(self) -> None:
        if self._twilio_http is not None:
            await self._twilio_http.aclose()
            self._twilio_http = None
        if self._resend_http is not None:
            await self._resend_http.aclose()
            self._resend_http = None
