"""The resend SDK with a key and a base URL per call, not per process.

The SDK reads its API key and base URL from module globals (``resend.api_key``,
``resend.api_url``), which cannot serve several organizations' keys at once from
one event loop. Every request does go through ``resend.default_async_http_client``,
so :class:`ResendHttp` is installed there: it replaces the ``Authorization`` header
and the origin with the values of the :func:`account` block the request was made in
(context variables, so concurrent sends for different organizations never see each
other's key). Outside such a block a request is refused before it leaves.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import resend
from resend.http_client_async import AsyncHTTPClient

RESEND_API = "https://api.resend.com"


@dataclass(frozen=True, slots=True)
class _Target:
    api_key: str
    base_url: str


_current: contextvars.ContextVar[_Target | None] = contextvars.ContextVar(
    "parley_resend_target", default=None
)


class NoResendAccount(RuntimeError):
    """A resend SDK call was made outside :func:`account`."""


class ResendHttp(AsyncHTTPClient):
    """httpx with one connection pool, keys and origin from the calling context."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self._http = httpx.AsyncClient(timeout=timeout_s)

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: dict[str, object] | list[object] | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        target = _current.get()
        if target is None:
            raise NoResendAccount("resend request made outside messaging.resend_http.account()")
        path = url[len(resend.api_url) :] if url.startswith(resend.api_url) else url
        sent_headers = {**headers, "Authorization": f"Bearer {target.api_key}"}
        response = await self._http.request(
            method,
            target.base_url.rstrip("/") + path,
            headers=sent_headers,
            json=json if data is None and files is None else None,
            data=data,
            files=files,
        )
        return response.content, response.status_code, response.headers

    async def aclose(self) -> None:
        await self._http.aclose()


def install(client: ResendHttp) -> None:
    """Make ``client`` the SDK's async HTTP client (process-wide; idempotent)."""
    resend.default_async_http_client = client
    # The global key must be set for the SDK to build its header; ours replaces it.
    resend.api_key = resend.api_key or "set-per-request"


@contextmanager
def account(api_key: str, base_url: str = RESEND_API) -> Iterator[None]:
    """SDK calls inside this block use ``api_key`` against ``base_url``."""
    token = _current.set(_Target(api_key, base_url))
    try:
        yield
    finally:
        _current.reset(token)
