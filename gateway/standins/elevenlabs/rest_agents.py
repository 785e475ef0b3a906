"""``/v1/convai/agents``: create, read, list, partially update and delete agents.

Bodies are checked by :mod:`agent_validation` (422 naming the field) and stored as
sent; ``PATCH`` merges into the stored configuration (:func:`workspace.merge`). The
answers have the shapes of the SDK's ``CreateAgentResponseModel``,
``GetAgentResponseModel`` and ``GetAgentsPageResponseModel``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gateway.standins.elevenlabs.agent_validation import validate_agent_body
from gateway.standins.elevenlabs.http_front import RestRequest, RestResponse
from gateway.standins.elevenlabs.rest_api import (
    RestError,
    Route,
    int_param,
    json_body,
    route,
    unprocessable,
)
from gateway.standins.elevenlabs.workspace import StoredAgent, Workspace, merge, new_id

Json = dict[str, Any]


class AgentRoutes:
    def __init__(self, workspace: Workspace, clock: Callable[[], float] = time.time) -> None:
        self._ws = workspace
        self._clock = clock

    def routes(self) -> list[Route]:
        return [
            route("POST", "/v1/convai/agents/create", self.create, "agents.create"),
            route("GET", "/v1/convai/agents", self.list, "agents.list"),
            route("GET", "/v1/convai/agents/{agent_id}", self.get, "agents.get"),
            route("PATCH", "/v1/convai/agents/{agent_id}", self.update, "agents.update"),
            route("DELETE", "/v1/convai/agents/{agent_id}", self.delete, "agents.delete"),
        ]

    def create(self, request: RestRequest) -> Json:
        body = json_body(request)
        errors = validate_agent_body(body, creating=True)
        if errors:
            raise unprocessable(errors)
        now = int(self._clock())
        agent = StoredAgent(
            agent_id=new_id("agent"),
            name=body.get("name") or "",
            conversation_config=body["conversation_config"],
            platform_settings=body.get("platform_settings") or {},
            tags=list(body.get("tags") or []),
            created_at_unix_secs=now,
            updated_at_unix_secs=now,
        )
        agent.requests.append(("POST", body))
        self._ws.agents[agent.agent_id] = agent
        return {"agent_id": agent.agent_id}

    def get(self, request: RestRequest, agent_id: str) -> Json:
        return self._agent(agent_id).as_json()

    def update(self, request: RestRequest, agent_id: str) -> Json:
        agent = self._agent(agent_id)
        body = json_body(request)
        errors = validate_agent_body(body, creating=False)
        if errors:
            raise unprocessable(errors)
        if body.get("conversation_config") is not None:
            agent.conversation_config = merge(
                agent.conversation_config, body["conversation_config"]
            )
        if body.get("platform_settings") is not None:
            agent.platform_settings = merge(agent.platform_settings, body["platform_settings"])
        if body.get("name") is not None:
            agent.name = body["name"]
        if body.get("tags") is not None:
            agent.tags = list(body["tags"])
        agent.updated_at_unix_secs = int(self._clock())
        agent.requests.append(("PATCH", body))
        return agent.as_json()

    def delete(self, request: RestRequest, agent_id: str) -> RestResponse:
        self._agent(agent_id)
        del self._ws.agents[agent_id]
        return RestResponse(200)

    def list(self, request: RestRequest) -> Json:
        size = int_param(request, "page_size", 30, 1, 100)
        search = request.query.get("search", "").lower()
        agents = sorted(
            (a for a in self._ws.agents.values() if search in a.name.lower()),
            key=lambda a: (-a.created_at_unix_secs, a.agent_id),
        )
        start = int_param(request, "cursor", 0, 0, 10**9)
        page = agents[start : start + size]
        more = start + size < len(agents)
        return {
            "agents": [a.summary() for a in page],
            "next_cursor": str(start + size) if more else None,
            "has_more": more,
        }

    def _agent(self, agent_id: str) -> StoredAgent:
        agent = self._ws.agents.get(agent_id)
        if agent is None:
            raise RestError(
                404, {"status": "agent_not_found", "message": f"Agent {agent_id} not found"}
            )
        return agent
