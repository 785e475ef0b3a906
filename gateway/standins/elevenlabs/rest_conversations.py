"""Conversation routes: the signed URL that opens one, and the record of those that ran.

``GET /v1/convai/conversations/{id}`` is the gateway's fallback when a post-call
webhook never came (reference §7, §11.10): ``status`` is ``in-progress`` during the
call, ``processing`` right after it, then ``done`` with the ``analysis``; clients poll
until ``done``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from gateway.standins.elevenlabs.conversation_view import conversation_json, conversation_summary
from gateway.standins.elevenlabs.http_front import RestRequest
from gateway.standins.elevenlabs.options import AgentOptions
from gateway.standins.elevenlabs.records import ConversationRecord
from gateway.standins.elevenlabs.rest_api import RestError, Route, int_param, route
from gateway.standins.elevenlabs.signed_urls import SignatureIssuer
from gateway.standins.elevenlabs.workspace import Workspace

Json = dict[str, Any]
CONVERSATION_PATH = "/v1/convai/conversation"
SIGNED_URL_PATHS = (
    "/v1/convai/conversation/get-signed-url",
    "/v1/convai/conversation/get_signed_url",  # deprecated alias, still served
)


class ConversationRoutes:
    def __init__(
        self,
        options: Callable[[], AgentOptions],
        workspace: Workspace,
        conversations: Mapping[str, ConversationRecord],
        issuer: SignatureIssuer,
        ws_base: Callable[[], str],
    ) -> None:
        self._options = options
        self._ws = workspace
        self._conversations = conversations
        self._issuer = issuer
        self._ws_base = ws_base

    def routes(self) -> list[Route]:
        return [
            *(route("GET", path, self.signed_url, "signed_url") for path in SIGNED_URL_PATHS),
            route("GET", "/v1/convai/conversations", self.list, "conversations.list"),
            route(
                "GET", "/v1/convai/conversations/{conversation_id}", self.get, "conversations.get"
            ),
        ]

    def signed_url(self, request: RestRequest) -> Json:
        agent_id = request.query.get("agent_id")
        if not agent_id:
            raise RestError(
                422, [{"loc": ["query", "agent_id"], "msg": "Field required", "type": "missing"}]
            )
        if not agent_exists(self._options(), self._ws, agent_id):
            raise RestError(
                404, {"status": "agent_not_found", "message": f"Agent {agent_id} not found"}
            )
        token = self._issuer.issue(agent_id)
        url = (
            f"{self._ws_base()}{CONVERSATION_PATH}?agent_id={quote(agent_id, safe='')}"
            f"&conversation_signature={token}"
        )
        return {"signed_url": url}

    def get(self, request: RestRequest, conversation_id: str) -> Json:
        record = self._conversations.get(conversation_id)
        if record is None:
            raise RestError(
                404,
                {
                    "status": "conversation_not_found",
                    "message": f"Conversation {conversation_id} not found",
                },
            )
        return conversation_json(record, cost_per_minute=self._options().cost_per_minute)

    def list(self, request: RestRequest) -> Json:
        size = int_param(request, "page_size", 30, 1, 100)
        start = int_param(request, "cursor", 0, 0, 10**9)
        agent_id = request.query.get("agent_id")
        records = [
            r
            for r in reversed(list(self._conversations.values()))
            if agent_id is None or r.agent_id == agent_id
        ]
        page = records[start : start + size]
        more = start + size < len(records)
        cost = self._options().cost_per_minute
        return {
            "conversations": [conversation_summary(r, cost_per_minute=cost) for r in page],
            "next_cursor": str(start + size) if more else None,
            "has_more": more,
        }


def agent_exists(options: AgentOptions, workspace: Workspace, agent_id: str) -> bool:
    """An id in ``options.agent_ids`` or created through the API; any id if neither limits."""
    if agent_id in workspace.agents:
        return True
    return options.agent_ids is None or agent_id in options.agent_ids
