"""Websocket handshake checks: agent id, private agents' signatures.

Why in ``process_request``: the ``websockets`` server hands every upgrade request to
it before accepting, so a socket can be refused with a real HTTP status, as the
service does (403 for a private agent without a valid signature, 404 for an unknown
agent). Plain REST requests never get here: :mod:`http_front` sends them to the
REST router (:mod:`rest_api`).

An agent is private when the stand-in's ``require_auth`` option says so or when its
stored configuration has ``platform_settings.auth.enable_auth`` (reference §10).
Error bodies follow the service's FastAPI style: ``{"detail": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from gateway.standins.elevenlabs.options import AgentOptions
from gateway.standins.elevenlabs.rest_api import Refusal
from gateway.standins.elevenlabs.rest_conversations import CONVERSATION_PATH, agent_exists
from gateway.standins.elevenlabs.signed_urls import SignatureIssuer
from gateway.standins.elevenlabs.workspace import Workspace

__all__ = ["CONVERSATION_PATH", "HttpRoutes", "Refusal"]


class HttpRoutes:
    """``process_request`` hook: vets websocket handshakes."""

    def __init__(
        self,
        options: Callable[[], AgentOptions],
        issuer: SignatureIssuer,
        workspace: Workspace,
        refusals: list[Refusal],
    ) -> None:
        self._options = options
        self._issuer = issuer
        self._ws = workspace
        self.refusals = refusals

    def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path != CONVERSATION_PATH:
            return self._refuse(connection, parts.path, HTTPStatus.NOT_FOUND, "Not Found")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        options = self._options()
        agent_id = query.get("agent_id")
        if not agent_id:
            return self._refuse(
                connection, CONVERSATION_PATH, HTTPStatus.BAD_REQUEST, "agent_id is required"
            )
        if not agent_exists(options, self._ws, agent_id):
            return self._refuse(
                connection, CONVERSATION_PATH, HTTPStatus.NOT_FOUND, "agent not found"
            )
        stored = self._ws.agents.get(agent_id)
        if options.require_auth or (stored is not None and stored.enable_auth):
            why = self._issuer.redeem(query.get("conversation_signature"), agent_id)
            if why is not None:
                return self._refuse(connection, CONVERSATION_PATH, HTTPStatus.FORBIDDEN, why)
        return None

    def _refuse(
        self, connection: ServerConnection, path: str, status: HTTPStatus, detail: Any
    ) -> Response:
        reason = detail if isinstance(detail, str) else orjson.dumps(detail).decode()
        self.refusals.append(Refusal(path, status.value, reason))
        response = connection.respond(status, orjson.dumps({"detail": detail}).decode())
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response
