"""The ElevenLabs stand-in server: one port for the REST route and the agent socket.

Why one ``websockets`` server: ``ElevenLabs(base_url=...)`` derives both the REST
host and the websocket host from the same base URL (reference §9.1), so the SDK and
the gateway can be pointed at ``base_url`` and find everything there. HTTP requests
are answered by :class:`~gateway.standins.elevenlabs.http_routes.HttpRoutes` before
any upgrade; accepted sockets get an
:class:`~gateway.standins.elevenlabs.session.AgentSession` each.

Public API:

- ``ElevenLabsStandIn(options=None, *, host="127.0.0.1", port=0)``; ``options`` is
  public and may be changed between conversations.
- ``await start()`` / ``await stop()`` (or ``async with``).
- ``base_url`` (``http://host:port``, for ``ElevenLabs(base_url=...)``), ``ws_url``
  (the conversation endpoint), ``port``.
- ``conversations``: :class:`ConversationRecord` by conversation id, in order of
  arrival; ``await wait_for_conversation(index=0, timeout_s=10)``.
- ``refusals``: requests answered with an error status (bad key, bad signature...).
"""

from __future__ import annotations

import copy
import secrets
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve

from gateway.standins import agent_audio
from gateway.standins.elevenlabs.http_routes import HttpRoutes, Refusal
from gateway.standins.elevenlabs.options import AgentOptions
from gateway.standins.elevenlabs.records import ConversationRecord
from gateway.standins.elevenlabs.session import AgentSession
from gateway.standins.elevenlabs.signed_urls import SignatureIssuer
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
        self._routes = HttpRoutes(lambda: self.options, self.issuer, lambda: self.ws_base)
        self._server: Server | None = None
        self._sessions: set[AgentSession] = set()
        self.conversations: dict[str, ConversationRecord] = {}

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self._port,
            process_request=self._routes,
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
        return self._routes.refusals

    @property
    def signed_url_requests(self) -> int:
        return self._routes.signed_url_requests

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
        record = ConversationRecord(
            conversation_id=conversation_id,
            agent_id=query.get("agent_id", ""),
            path=parts.path,
            query=query,
            input_format=options.user_input_format,
            output_format=options.output_format,
        )
        self.conversations[conversation_id] = record
        session = AgentSession(ws, options, record)
        self._sessions.add(session)
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
