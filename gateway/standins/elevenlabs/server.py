"""The ElevenLabs stand-in server: one port for the REST API and the agent socket.

Why one port: ``ElevenLabs(base_url=...)`` derives both the REST host and the
websocket host from the same base URL (reference §9.1), so the SDK and the gateway
can be pointed at ``base_url`` and find everything there. The server is a
``websockets`` server whose connection class (:mod:`http_front`) sends plain HTTP
requests (with bodies, which ``websockets`` alone refuses) to the REST router
(:mod:`rest_api`) and upgrades to :class:`~gateway.standins.elevenlabs.session.AgentSession`.
Both share one in-process :class:`~gateway.standins.elevenlabs.workspace.Workspace`:
an agent created or patched over REST configures every later conversation opened
with its id (tools, overrides, variables, formats, auth: :mod:`agent_binding`).

Public API:

- ``ElevenLabsStandIn(options=None, *, host="127.0.0.1", port=0)``; ``options`` is
  public and may be changed between conversations.
- ``await start()`` / ``await stop()`` (or ``async with``).
- ``base_url`` (``http://host:port``, for ``ElevenLabs(base_url=...)`` and
  ``PARLEY_ELEVENLABS_API_URL``), ``ws_url`` (the conversation endpoint), ``port``.
- ``conversations``: :class:`ConversationRecord` by conversation id, in order of
  arrival; ``await wait_for_conversation(index=0, timeout_s=10)``.
- ``workspace`` (agents, secrets, webhooks, settings); ``agents`` (its agents).
- ``conversation_json(conversation_id)``: what ``GET /v1/convai/conversations/{id}``
  answers; ``release_analysis(conversation_id)`` ends "processing" when
  ``analysis_delay_s`` is None.
- ``deliveries``: post-call webhook POSTs made; ``await wait_for_deliveries(n)``.
- ``refusals``: requests answered with an error status (bad key, bad signature...);
  ``rest_hits``: REST requests by route name (``agents.create``, ``signed_url``...).
"""

from __future__ import annotations

import asyncio
import copy
import secrets
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from websockets.asyncio.server import Server, ServerConnection, serve

from gateway.standins import agent_audio
from gateway.standins.elevenlabs import conversation_view
from gateway.standins.elevenlabs.http_front import connection_class
from gateway.standins.elevenlabs.http_routes import CONVERSATION_PATH, HttpRoutes
from gateway.standins.elevenlabs.options import AgentOptions, PostCallWebhook
from gateway.standins.elevenlabs.post_call import Delivery, deliver
from gateway.standins.elevenlabs.records import ConversationRecord
from gateway.standins.elevenlabs.rest_agents import AgentRoutes
from gateway.standins.elevenlabs.rest_api import Refusal, RestApi
from gateway.standins.elevenlabs.rest_conversations import ConversationRoutes
from gateway.standins.elevenlabs.rest_workspace import WorkspaceRoutes
from gateway.standins.elevenlabs.session import AgentSession
from gateway.standins.elevenlabs.signed_urls import SignatureIssuer
from gateway.standins.elevenlabs.workspace import StoredAgent, Workspace, dig
from gateway.standins.waiting import poll_until

#: The service accepts frames up to 16 MiB (reference §5.3).
MAX_FRAME = 16 * 1024 * 1024


class ElevenLabsStandIn:
    """A local ConvAI service speaking the real wire protocol."""

    def __init__(
        self, options: AgentOptions | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.options = options or AgentOptions()
        agent_audio.check_format(self.options.output_format)
        agent_audio.check_format(self.options.user_input_format)
        self.host = host
        self._port = port
        self.issuer = SignatureIssuer(self.options.signed_url_ttl_s)
        self.workspace = Workspace()
        self.conversations: dict[str, ConversationRecord] = {}
        self.deliveries: list[Delivery] = []
        self._refusals: list[Refusal] = []
        self._handshakes = HttpRoutes(
            lambda: self.options, self.issuer, self.workspace, self._refusals
        )
        routes = [
            *ConversationRoutes(
                lambda: self.options, self.workspace, self.conversations, self.issuer,
                lambda: self.ws_base,
            ).routes(),
            *AgentRoutes(self.workspace).routes(),
            *WorkspaceRoutes(self.workspace).routes(),
        ]
        self._rest = RestApi(routes, lambda: self.options.api_key, self._refusals)
        self._server: Server | None = None
        self._sessions: set[AgentSession] = set()
        self._http: httpx.AsyncClient | None = None
        self._after_call: set[asyncio.Task[None]] = set()

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self._http = httpx.AsyncClient()
        self._server = await serve(
            self._handle,
            self.host,
            self._port,
            process_request=self._handshakes,
            create_connection=connection_class(self._rest, frozenset({CONVERSATION_PATH})),
            max_size=MAX_FRAME,
            compression=None,
        )
        sockname = next(iter(self._server.sockets)).getsockname()
        self._port = int(sockname[1])

    async def stop(self) -> None:
        if self._server is None:
            return
        for session in self._sessions:
            session.server_stopping()
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        for task in self._after_call:
            task.cancel()
        await asyncio.gather(*self._after_call, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> ElevenLabsStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- addresses ------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """HTTP base URL, as given to ``ElevenLabs(base_url=...)``."""
        return f"http://{self.host}:{self._port}"

    @property
    def ws_base(self) -> str:
        return f"ws://{self.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        """The conversation endpoint (add ``?agent_id=...``)."""
        return f"{self.ws_base}/v1/convai/conversation"

    # --- observability --------------------------------------------------------------

    @property
    def refusals(self) -> list[Refusal]:
        return self._refusals

    @property
    def rest_hits(self) -> dict[str, int]:
        return self._rest.hits

    @property
    def signed_url_requests(self) -> int:
        return self._rest.hits.get("signed_url", 0)

    @property
    def agents(self) -> dict[str, StoredAgent]:
        return self.workspace.agents

    def conversation_json(self, conversation_id: str) -> dict[str, Any]:
        """What ``GET /v1/convai/conversations/{id}`` answers now (KeyError if unknown)."""
        record = self.conversations[conversation_id]
        return conversation_view.conversation_json(
            record, cost_per_minute=self.options.cost_per_minute
        )

    def release_analysis(self, conversation_id: str) -> None:
        """End "processing" now (with ``analysis_delay_s=None`` it waits for this)."""
        self.conversations[conversation_id].analysis_ready = True

    async def wait_for_deliveries(self, count: int, timeout_s: float = 10.0) -> list[Delivery]:
        """Once ``count`` post-call webhook POSTs have been answered (or failed)."""
        await poll_until(
            lambda: sum(d.status is not None or d.error is not None for d in self.deliveries)
            >= count,
            timeout_s,
        )
        return self.deliveries[:count]

    async def wait_for_conversation(
        self, index: int = 0, timeout_s: float = 10.0
    ) -> ConversationRecord:
        """The ``index``-th conversation (0-based, in arrival order), once it exists."""
        await poll_until(lambda: len(self.conversations) > index, timeout_s)
        return list(self.conversations.values())[index]

    # --- connections ----------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        options = copy.copy(self.options)
        assert ws.request is not None
        parts = urlsplit(ws.request.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        conversation_id = f"conv_{secrets.token_hex(13)}"
        stored = self.workspace.agents.get(query.get("agent_id", ""))
        agent = stored.snapshot() if stored is not None else None
        if agent is not None and agent.output_format:
            options.audio_format = agent.output_format
            options.input_format = agent.input_format
        record = ConversationRecord(
            conversation_id=conversation_id,
            agent_id=query.get("agent_id", ""),
            path=parts.path,
            query=query,
            input_format=options.user_input_format,
            output_format=options.output_format,
        )
        self.conversations[conversation_id] = record
        session = AgentSession(
            ws, options, record, agent=agent, secret=self._secret, http=self._http
        )
        self._sessions.add(session)
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            task = asyncio.create_task(self._after(record, options, agent))
            self._after_call.add(task)
            task.add_done_callback(self._after_call.discard)

    def _secret(self, secret_id: str) -> str | None:
        return self.options.secrets.get(secret_id) or self.workspace.secret_value(secret_id)

    async def _after(
        self, record: ConversationRecord, options: AgentOptions, agent: StoredAgent | None
    ) -> None:
        """The service's post-call processing: analysis, then the webhook."""
        if record.failed or record.init is None:
            return
        if options.analysis_delay_s is None:
            await poll_until(lambda: record.analysis_ready, timeout_s=24 * 3600)
        else:
            await asyncio.sleep(options.analysis_delay_s)
            record.analysis_ready = True
        hook = options.post_call_webhook or self._workspace_webhook(agent)
        if hook is None or self._http is None:
            return
        record.webhook_deliveries += max(1, hook.copies)
        data = conversation_view.conversation_json(record, cost_per_minute=options.cost_per_minute)
        await deliver(self._http, hook, record.conversation_id, data, self.deliveries)

    def _workspace_webhook(self, agent: StoredAgent | None) -> PostCallWebhook | None:
        """The HMAC webhook attached to the agent, or to the workspace, for transcripts."""
        settings = self.workspace.convai_settings
        hook_id = agent.post_call_webhook_id if agent is not None else None
        events = dig(settings, "webhooks", "events")
        if hook_id is None:
            hook_id = dig(settings, "webhooks", "post_call_webhook_id")
            if isinstance(events, list) and "transcript" not in events:
                return None
        hook = self.workspace.webhooks.get(hook_id) if isinstance(hook_id, str) else None
        if hook is None:
            return None
        return PostCallWebhook(hook.url, hook.secret, headers=dict(hook.request_headers))
