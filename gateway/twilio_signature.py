"""Twilio request signatures, checked with the SDK's ``RequestValidator``.

The URL Twilio signed is the public one it was given, not the one this process sees
behind a proxy or tunnel, so it is rebuilt from ``PARLEY_PUBLIC_URL`` plus the
request's path and raw query (reference ``twilio-resend.md`` §4.3). The media
socket's upgrade is a GET signed over the exact ``wss://`` URL from our TwiML with no
parameters (§1.8).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "x-twilio-signature"


class TwilioSignatures:
    def __init__(self, auth_token: str, public_url: str, media_stream_url: str) -> None:
        self._validator = RequestValidator(auth_token)
        parts = urlsplit(public_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")
        self._media_stream_url = media_stream_url

    def public_url(self, path: str, query: str = "") -> str:
        """The URL Twilio used for a request that reached us at ``path?query``."""
        url = self._origin + self._prefix + path
        return f"{url}?{query}" if query else url

    def valid_form(self, path: str, query: str, form: Mapping[str, Any], signature: str) -> bool:
        """Check a form-encoded webhook (``form`` may be a Starlette ``FormData``)."""
        if not signature:
            return False
        return bool(self._validator.validate(self.public_url(path, query), form, signature))

    def valid_media_upgrade(self, signature: str) -> bool:
        if not signature:
            return False
        return bool(self._validator.validate(self._media_stream_url, {}, signature))

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        """Compute a signature as Twilio would (used by the stand-in and tests)."""
        return str(self._validator.compute_signature(url, dict(params)))
