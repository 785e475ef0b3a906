"""Signed HTTP requests from "Twilio" to the gateway: TwiML fetches and callbacks.

Why: every webhook is where the gateway's signature check, form parsing and reply
are exercised, so requests are built like Twilio's: form-encoded POST (or GET with
the parameters in the query string), ``X-Twilio-Signature`` over the public URL,
an idempotency token and Twilio's user agent. Failures never raise: they are
recorded (status, body, error) for the call simulation to act on and tests to see.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from urllib.parse import urlencode

import httpx

from gateway.standins.twilio_records import WebhookRecord
from gateway.standins.twilio_signing import UrlMap, sign

USER_AGENT = "TwilioProxy/1.1"


class WebhookClient:
    """Sends signed webhook requests; one shared HTTP connection pool."""

    def __init__(self, auth_token: str, url_map: UrlMap, timeout_s: float = 15.0) -> None:
        self._token = auth_token
        self._map = url_map
        self._http = httpx.AsyncClient(
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def connect_url(self, url: str) -> str:
        """Where a public URL is actually reached."""
        return self._map.map(url)

    async def send(
        self,
        kind: str,
        url: str,
        params: Mapping[str, str],
        method: str = "POST",
        *,
        auth_token: str | None = None,
    ) -> WebhookRecord:
        """Make one signed request (with ``auth_token``: as that account signs it);
        the record carries the outcome."""
        token = auth_token or self._token
        method = (method or "POST").upper()
        form = dict(params)
        if method == "GET":
            joiner = "&" if "?" in url else "?"
            signed_url = f"{url}{joiner}{urlencode(form)}" if form else url
            signature = sign(token, signed_url)
            body: str | None = None
        else:
            signed_url = url
            signature = sign(token, url, form)
            body = urlencode(form)
        record = WebhookRecord(
            kind=kind,
            method=method,
            url=signed_url,
            sent_to=self._map.map(signed_url),
            params=form,
            signature=signature,
        )
        headers = {
            "X-Twilio-Signature": signature,
            "User-Agent": USER_AGENT,
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "Accept": "*/*",
        }
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = await self._http.request(
                method, record.sent_to, content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            return record
        record.status = response.status_code
        record.body = response.text
        return record
