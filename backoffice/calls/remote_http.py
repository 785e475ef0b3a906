"""Signed, bounded HTTP to an organization's own system of record (docs/partner-api.md).

Theory of operation. :meth:`PartnerClient.send` makes one logical request: it signs
each attempt afresh (timestamp, HMAC-SHA256 over timestamp, method, request target
and body), holds each attempt to ``timeout_s`` and the whole to a monotonic
``deadline``, and repeats an attempt only when it may succeed next time and is safe
to repeat: no connection, no answer in time, or a ``5xx``. Writes carry an
``Idempotency-Key`` that stays the same across attempts, so a repeat after a partner
did the work but answered too late is answered from its record, not done twice.

It returns every answer with a status below 500 (the caller reads ``404`` or a
refusal); every other outcome is one :class:`PartnerUnavailable` whose ``why`` says
which. Nothing here logs a body, a query string or the secret: only the route
template, status codes, attempts and the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import structlog

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Parley-Signature"
TIMESTAMP_HEADER = "X-Parley-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "parley/0.1"
#: First pause between attempts (doubled each time), bounded by the deadline.
BACKOFF_S = 0.05


def signature(secret: bytes, timestamp: str, method: str, target: bytes, body: bytes) -> str:
    """``v1=<hex>`` for one request, as docs/partner-api.md ("Signing") defines it."""
    message = b"\n".join((timestamp.encode("ascii"), method.upper().encode("ascii"), target, body))
    return "v1=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


class PartnerUnavailable(Exception):
    """The partner gave no usable answer.

    ``why`` is one of: ``timeout``, ``connect`` (no connection or it dropped),
    ``server_error`` (5xx), ``deadline`` (no time left for another attempt),
    ``unauthorized`` (401/403: wrong secret or clock), ``bad_response`` (not the
    documented JSON), ``no_secret`` (none configured).
    """

    def __init__(self, why: str, status: int | None = None) -> None:
        super().__init__(why if status is None else f"{why} ({status})")
        self.why = why
        self.status = status

    @property
    def transient(self) -> bool:
        """Whether it may well work in a moment (as opposed to a configuration error)."""
        return self.why in ("timeout", "connect", "server_error", "deadline")


@dataclass(frozen=True, slots=True)
class PartnerReply:
    """An answer below 500: the status code and the JSON object (empty if none)."""

    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


SecretSource = Callable[[], Awaitable[bytes]]


class PartnerClient:
    """One organization's partner API at ``base_url``, over a shared connection pool."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        secret: SecretSource,
        *,
        timeout_s: float,
        retries: int,
        log_context: dict[str, str] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._base = httpx.URL(base_url.rstrip("/") + "/")
        self._secret = secret
        self.timeout_s = timeout_s
        self.retries = retries
        self._log = log.bind(**(log_context or {}))
        self._wall_clock = wall_clock

    async def send(
        self,
        method: str,
        path: str,
        *,
        route: str,
        deadline: float,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> PartnerReply:
        """One logical request, retried within ``deadline`` (``time.monotonic()``).

        Args:
            path: relative to the base URL, already percent-encoded (``accounts/A%201``).
            route: the path's template (``/accounts/{ref}``), the only part logged.

        Raises:
            PartnerUnavailable: see its ``why``.
        """
        secret = await self._secret()
        content = orjson.dumps(body) if body is not None else b""
        url = self._base.join(path)
        failure = PartnerUnavailable("deadline")
        for attempt in range(self.retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0.001:
                break
            if attempt:
                pause = min(BACKOFF_S * 2 ** (attempt - 1), remaining / 4)
                await asyncio.sleep(pause)
                remaining = deadline - time.monotonic()
            limit = min(self.timeout_s, remaining)
            request = self._request(method, url, params, content, idempotency_key, secret, limit)
            try:
                async with asyncio.timeout(limit):
                    response = await self._http.send(request)
            except (TimeoutError, httpx.TimeoutException):
                failure = PartnerUnavailable("timeout")
            except httpx.TransportError:
                failure = PartnerUnavailable("connect")
            else:
                if response.status_code < 500:
                    return self._reply(response, route, method)
                failure = PartnerUnavailable("server_error", response.status_code)
            self._log.warning(
                "partner.attempt_failed",
                method=method,
                route=route,
                attempt=attempt + 1,
                why=failure.why,
                status=failure.status,
            )
        raise failure

    def _request(
        self,
        method: str,
        url: httpx.URL,
        params: dict[str, str] | None,
        content: bytes,
        idempotency_key: str | None,
        secret: bytes,
        limit: float,
    ) -> httpx.Request:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if content:
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        request = self._http.build_request(
            method,
            url,
            params=params,
            content=content,
            headers=headers,
            timeout=httpx.Timeout(limit),
        )
        timestamp = str(int(self._wall_clock()))
        request.headers[TIMESTAMP_HEADER] = timestamp
        request.headers[SIGNATURE_HEADER] = signature(
            secret, timestamp, method, request.url.raw_path, content
        )
        return request

    def _reply(self, response: httpx.Response, route: str, method: str) -> PartnerReply:
        status = response.status_code
        if status in (401, 403):
            self._log.error("partner.unauthorized", method=method, route=route, status=status)
            raise PartnerUnavailable("unauthorized", status)
        try:
            body = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            if 200 <= status < 300:
                self._log.error("partner.bad_response", method=method, route=route, status=status)
                raise PartnerUnavailable("bad_response", status)
            body = {}
        return PartnerReply(status, body)
