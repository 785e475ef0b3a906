"""Point the twilio SDK at the stand-in's REST API.

Why: the SDK hard-codes ``https://api.twilio.com`` and ``https://content.twilio.com``
(plus region/edge rewriting) and has no base-URL setting, but every request goes
through its pluggable HTTP client. These clients rewrite those origins to the
stand-in's ``rest_url`` and change nothing else, so the code under test uses the SDK
exactly as in production::

    client = Client(sid, token, http_client=StandInHttpClient(twilio.rest_url))
    client = Client(sid, token, http_client=AsyncStandInHttpClient(twilio.rest_url))
"""

from __future__ import annotations

from typing import Any

from twilio.http.http_client import TwilioHttpClient

from backoffice.messaging.twilio_http import redirect
from gateway.twilio_rest import RedirectingHttpClient


class StandInHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's synchronous (requests) client, aimed at the stand-in."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        return super().request(method, redirect(url, self.base_url), *args, **kwargs)


class AsyncStandInHttpClient(RedirectingHttpClient):
    """The SDK's asyncio (aiohttp) client, aimed at the stand-in (the gateway's own)."""
