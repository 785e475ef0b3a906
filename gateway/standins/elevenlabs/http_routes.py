"""The plain-HTTP side of the stand-in: the signed-URL route and the handshake checks.

Why inside the websocket server: the ``websockets`` server hands every incoming HTTP
request to ``process_request`` before deciding on an upgrade, so one port can answer
``GET /v1/convai/conversation/get-signed-url`` like the REST API and refuse a socket
with a real HTTP status, as the service does (403 for a private agent without a
valid signature). Clients see the same host for REST and websocket, exactly like
``ElevenLabs(base_url=...)`` assumes (reference §9.1).

Error bodies follow the service's FastAPI style: ``{"detail": {...}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from gateway.standins.elevenlabs.options import AgentOptions
from gateway.standins.elevenlabs.signed_urls import SignatureIssuer

CONVERSATION_PATH = "/v1/convai/conversation"
SIGNED_URL_PATHS = (
    "/v1/convai/conversation/get-signed-url",
    "/v1/convai/conversation/get_signed_url",  # deprecated alias, still served
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request the stand-in answered with an error status."""

    path: str
    status: int
    reason: str


class HttpRoutes:
    """``process_request`` hook: answers REST routes, vets websocket handshakes."""

    def __init__(
        self,
        options: Callable[[], AgentOptions],
        issuer: SignatureIssuer,
        ws_base: Callable[[], str],
    ) -> None:
        self._options = options
        self._issuer = issuer
        self._ws_base = ws_base
        self.refusals: list[Refusal] = []
        self.signed_url_requests = 0

    def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if parts.path in SIGNED_URL_PATHS:
            return self._signed_url(connection, request, query)
        if parts.path == CONVERSATION_PATH:
            return self._vet_handshake(connection, query)
        return self._refuse(connection, parts.path, HTTPStatus.NOT_FOUND, "Not Found")

    def _signed_url(
        self, connection: ServerConnection, request: Request, query: dict[str, str]
    ) -> Response:
        self.signed_url_requests += 1
        options = self._options()
        key = request.headers.get("xi-api-key")
        if not key:
            return self._refuse(
                connection,
                SIGNED_URL_PATHS[0],
                HTTPStatus.UNAUTHORIZED,
                {"status": "needs_authorization", "message": "Missing xi-api-key header"},
            )
        if key != options.api_key:
            return self._refuse(
                connection,
                SIGNED_URL_PATHS[0],
                HTTPStatus.UNAUTHORIZED,
                {"status": "invalid_api_key", "message": "Invalid API key"},
            )
        agent_id = query.get("agent_id")
        if not agent_id:
            detail = [{"loc": ["query", "agent_id"], "msg": "Field required", "type": "missing"}]
            return self._refuse(
                connection, SIGNED_URL_PATHS[0], HTTPStatus.UNPROCESSABLE_ENTITY, detail
            )
        if options.agent_ids is not None and agent_id not in options.agent_ids:
            return self._refuse(
                connection,
                SIGNED_URL_PATHS[0],
                HTTPStatus.NOT_FOUND,
                {"status": "agent_not_found", "message": f"Agent {agent_id} not found"},
            )
        token = self._issuer.issue(agent_id)
        url = (
            f"{self._ws_base()}{CONVERSATION_PATH}?agent_id={quote(agent_id, safe='')}"
            f"&conversation_signature={token}"
        )
        return _json(connection, HTTPStatus.OK, {"signed_url": url})

    def _vet_handshake(
        self, connection: ServerConnection, query: dict[str, str]
    ) -> Response | None:
        options = self._options()
        agent_id = query.get("agent_id")
        if not agent_id:
            return self._refuse(
                connection, CONVERSATION_PATH, HTTPStatus.BAD_REQUEST, "agent_id is required"
            )
        if options.agent_ids is not None and agent_id not in options.agent_ids:
            return self._refuse(
                connection, CONVERSATION_PATH, HTTPStatus.NOT_FOUND, "agent not found"
            )
        if options.require_auth:
            why = self._issuer.redeem(query.get("conversation_signature"), agent_id)
            if why is not None:
                return self._refuse(connection, CONVERSATION_PATH, HTTPStatus.FORBIDDEN, why)
        return None

    def _refuse(
        self, connection: ServerConnection, path: str, status: HTTPStatus, detail: Any
    ) -> Response:
        reason = detail if isinstance(detail, str) else orjson.dumps(detail).decode()
        self.refusals.append(Refusal(path, status.value, reason))
        return _json(connection, status, {"detail": detail})


def _json(connection: ServerConnection, status: HTTPStatus, body: Any) -> Response:
    response = connection.respond(status, orjson.dumps(body).decode())
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response
