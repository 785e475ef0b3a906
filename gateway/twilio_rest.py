"""Twilio's REST API through the ``twilio`` SDK: placing calls and changing live ones.

The SDK's async HTTP client is used as is, except that requests for
``https://api.twilio.com`` can be sent to another base URL (``PARLEY_TWILIO_API_URL``),
which is how the demo, the tests and the benchmark reach the local Twilio stand-in.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from gateway import twiml

TWILIO_API = "https://api.twilio.com"

# The SDK logs every request line at INFO; our own logs say what matters.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def redirect(url: str, base_url: str) -> str:
    """``url`` with Twilio's API origin replaced by ``base_url`` (others unchanged)."""
    if url.startswith(TWILIO_API):
        return base_url.rstrip("/") + url[len(TWILIO_API) :]
    return url


class RedirectingHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's aiohttp client, sending ``api.twilio.com`` requests to ``base_url``.

    The SDK passes credentials as ``aiohttp.BasicAuth``, deprecated since aiohttp 3.14;
    the same ``Authorization: Basic`` header is set directly, so the wire is unchanged.
    """

    def __init__(self, base_url: str = TWILIO_API, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", 10.0)
        super().__init__(**kwargs)
        self.base_url = base_url

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's signature
        allow_redirects: bool = False,
    ) -> Response:
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        response: Response = await super().request(
            method,
            redirect(url, self.base_url),
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        return response


@dataclass(frozen=True, slots=True)
class PlacedCall:
    call_sid: str
    status: str


class TwilioVoice:
    """The few voice REST calls the gateway makes."""

    def __init__(self, account_sid: str, auth_token: str, api_url: str = TWILIO_API) -> None:
        self._http = RedirectingHttpClient(api_url)
        self._client = Client(account_sid, auth_token, http_client=self._http)

    async def place_call(
        self,
        *,
        to: str,
        from_: str,
        twiml_url: str,
        status_url: str,
        amd: bool = True,
    ) -> PlacedCall:
        """Dial ``to``; Twilio fetches ``twiml_url`` once answered.

        Raises:
            twilio.base.exceptions.TwilioRestException: Twilio refused the call.
        """
        extra: dict[str, Any] = {}
        if amd:
            extra = {
                "machine_detection": "DetectMessageEnd",
                "async_amd": "true",
                "async_amd_status_callback": status_url,
                "async_amd_status_callback_method": "POST",
            }
        call = await self._client.calls.create_async(
            to=to,
            from_=from_,
            url=twiml_url,
            method="POST",
            status_callback=status_url,
            status_callback_method="POST",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            **extra,
        )
        return PlacedCall(call_sid=str(call.sid), status=str(call.status))

    async def say_and_hang_up(self, call_sid: str, text: str, language: str) -> None:
        """Replace a live call's TwiML: Twilio speaks ``text`` and hangs up."""
        await self.update_twiml(call_sid, twiml.say(text, language))

    async def update_twiml(self, call_sid: str, document: str) -> None:
        """Replace a live call's TwiML (the media stream, if any, stops)."""
        await self._client.calls(call_sid).update_async(twiml=document)

    async def hang_up(self, call_sid: str) -> None:
        await self._client.calls(call_sid).update_async(status="completed")

    async def close(self) -> None:
        session = getattr(self._http, "session", None)
        if session is not None:
            await session.close()
