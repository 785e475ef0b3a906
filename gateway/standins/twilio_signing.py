"""``X-Twilio-Signature`` for the stand-in's requests, and public -> local URL mapping.

Why both here: Twilio signs the URL it was *given* (the public one the gateway wrote
into the call's ``Url``, ``StatusCallback`` or ``<Stream url>``), but in tests and the
demo that public host (``https://public.example``) is a gateway on
``http://127.0.0.1:PORT``. So every request is signed for the public URL and sent to
the mapped local one, which is exactly the proxy / ngrok situation the gateway must
handle (reference §4.3).

Signing is the twilio SDK's own ``RequestValidator.compute_signature``: HMAC-SHA1
over the URL followed by the sorted POST parameters (none for a websocket upgrade
or a GET). For voice over HTTPS Twilio drops an explicit ``:443`` before signing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from twilio.request_validator import RequestValidator

_WS_OF = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_HTTP_OF = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def signing_url(url: str) -> str:
    """The URL as Twilio signs it: unchanged, except a default ``:443`` is dropped."""
    parts = urlsplit(url)
    if parts.scheme in ("https", "wss") and parts.port == 443:
        host = parts.hostname or ""
        return urlunsplit(parts._replace(netloc=host))
    return url


def sign(auth_token: str, url: str, params: Mapping[str, str] | None = None) -> str:
    """``X-Twilio-Signature`` value for a request to ``url`` with form ``params``."""
    validator = RequestValidator(auth_token)
    return str(validator.compute_signature(signing_url(url), dict(params or {})))


@dataclass(frozen=True, slots=True)
class UrlMap:
    """Rewrites public URLs (and their ws/wss twins) to where the gateway listens.

    ``rules`` pairs a public prefix with a local prefix, e.g.
    ``("https://public.example", "http://127.0.0.1:8080")``. A URL matches a rule
    when its host and port equal the public prefix's and its path starts with the
    prefix's path; ``wss``/``ws`` URLs match ``https``/``http`` rules and are mapped
    to ``ws``/``wss`` accordingly. Unmatched URLs are used as they are.
    """

    rules: tuple[tuple[str, str], ...] = ()

    def map(self, url: str) -> str:
        parts = urlsplit(url)
        for public, local in self.rules:
            pub, loc = urlsplit(public), urlsplit(local)
            if not _same_origin(parts, pub) or not parts.path.startswith(pub.path.rstrip("/")):
                continue
            websocket = parts.scheme in ("ws", "wss")
            scheme = _WS_OF[loc.scheme] if websocket else _HTTP_OF[loc.scheme]
            path = loc.path.rstrip("/") + parts.path[len(pub.path.rstrip("/")) :]
            return urlunsplit((scheme, loc.netloc, path, parts.query, parts.fragment))
        return url


def _same_origin(url: SplitResult, public: SplitResult) -> bool:
    if (url.hostname or "").lower() != (public.hostname or "").lower():
        return False
    return _port(url) == _port(public)


def _port(parts: SplitResult) -> int:
    if parts.port is not None:
        return parts.port
    return 443 if parts.scheme in ("https", "wss") else 80
