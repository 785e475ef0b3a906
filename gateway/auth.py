"""Operator authentication, minimal for now: an API key names one organization.

Keys come from ``PARLEY_API_KEYS`` (``org:key`` pairs) and are compared in constant
time. The backoffice brings hashed keys with roles; routes only ever see the
organization id this returns.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from starlette.requests import HTTPConnection


class OperatorKeys:
    def __init__(self, keys: Mapping[str, str]) -> None:
        self._keys = dict(keys)

    def org_for(self, presented: str) -> str | None:
        """The organization of a presented key, or None."""
        if not presented:
            return None
        found: str | None = None
        for key, org in self._keys.items():
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = org
        return found

    def org_of_request(self, conn: HTTPConnection) -> str | None:
        """From ``Authorization: Bearer``, ``X-API-Key`` or, for browser websockets
        (which cannot set headers), the ``api_key`` query parameter."""
        header = conn.headers.get("authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        key = key or conn.headers.get("x-api-key", "") or conn.query_params.get("api_key", "")
        return self.org_for(key)
