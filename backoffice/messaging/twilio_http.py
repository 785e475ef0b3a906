"""The twilio SDK's asyncio HTTP client, aimed at another base URL when configured.

The SDK has no base-URL setting: it builds ``https://api.twilio.com/...`` and
``https://content.twilio.com/...`` itself. Every request goes through its pluggable
HTTP client, so this one rewrites any ``https://*.twilio.com`` origin to
``base_url`` (``PARLEY_TWILIO_API_URL``, e.g. the local stand-in) and changes
nothing else. The voice side does the same for ``api.twilio.com``
(``gateway.twilio_rest``); the backoffice cannot import the gateway, hence this
module.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any

from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response

TWILIO_API = "https://api.twilio.com"
_TWILIO_ORIGIN = re.compile(r"^https://[a-z0-9.-]*\.twilio\.com(?=/|$)")

# The SDK logs every request line at INFO; our own logs say what matters.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def redirect(url: str, base_url: str) -> str:
    """``url`` with a Twilio API origin replaced by ``base_url`` (others unchanged)."""
    if base_url.rstrip("/") == TWILIO_API:
        return url
    return _TWILIO_ORIGIN.sub(base_url.rstrip("/"), url, count=1)


class TwilioHttp(AsyncTwilioHttpClient):  # type: ignore[misc]
    """One aiohttp session for every Twilio account the process sends for.

    Credentials come with each request (the SDK passes the account's SID and token),
    so a managed account and many bring-your-own ones share this client. The SDK
    passes them as ``aiohttp.BasicAuth``, deprecated since aiohttp 3.14; the same
    ``Authorization: Basic`` header is set directly, so the wire is unchanged.
    """

    def __init__(self, base_url: str = TWILIO_API, timeout_s: float = 10.0) -> None:
        super().__init__(timeout=timeout_s)
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

    async def aclose(self) -> None:
        session: Any = getattr(self, "session", None)
        if session is not None:
            await session.close()
