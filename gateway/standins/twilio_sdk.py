"""Point the twilio SDK at the stand-in's REST API.

Why: the SDK hard-codes ``https://api.twilio.com`` (plus region/edge rewriting) and
has no base-URL setting, but every request goes through its pluggable HTTP client.
These clients rewrite that origin to the stand-in's ``rest_url`` and change nothing
else, so the code under test uses the SDK exactly as in production::

    client = Client(sid, token, http_client=StandInHttpClient(twilio.rest_url))
    client = Client(sid, token, http_client=AsyncStandInHttpClient(twilio.rest_url))
"""

from __future__ import annotations

import base64
from typing import Any

from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient

TWILIO_API = "https://api.twilio.com"


def redirect(url: str, base_url: str) -> str:
    """``url`` with Twilio's API origin replaced by ``base_url`` (others unchanged)."""
    if url.startswith(TWILIO_API):
        return base_url.rstrip("/") + url[len(TWILIO_API) :]
    return url


class StandInHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's synchronous (requests) client, aimed at the stand-in."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        return super().request(method, redirect(url, self.base_url), *args, **kwargs)


class AsyncStandInHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's asyncio (aiohttp) client, aimed at the stand-in.

    The SDK passes credentials as ``aiohttp.BasicAuth``, deprecated since aiohttp
    3.14 (a DeprecationWarning on every request); the same ``Authorization: Basic``
    header is set directly instead, so the bytes on the wire do not change.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
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
    ) -> Any:
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        return await super().request(
            method,
            redirect(url, self.base_url),
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
