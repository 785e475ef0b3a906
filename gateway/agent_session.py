"""One ElevenLabs ConvAI conversation socket, opened before the caller speaks.

Theory of operation. :meth:`AgentConnector.open` gets a signed URL (when an API key is
set), opens the socket, sends ``conversation_initiation_client_data`` and waits for
``conversation_initiation_metadata``: that is the handshake a prewarm completes while
Twilio is still setting up the media stream. Until a call's runner attaches
(:meth:`AgentSession.attach`), the session answers ``ping`` itself and buffers every
other event in order, so the agent's first words wait for the caller instead of being
lost. Once attached, events go to the runner as they arrive.

Once attached, complete text messages are read straight from the socket
(:class:`~gateway.ws_client.AgentConnection`) and handed to the runner's synchronous
:meth:`AgentSink.agent_event_now`, in order, with no task switch per message.

Agent frames can exceed 1 MiB (reference ``elevenlabs-convai.md`` §5.3), hence the
16 MiB ``max_size``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol
from urllib.parse import urlencode

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.typing import BytesLike

from gateway import agent_events as ae
from gateway.protocol_error import ProtocolError
from gateway.ws_client import AgentConnection
from gateway.ws_frames import MaskKeys, client_text_frame

log = structlog.get_logger(__name__)

AGENT_MAX_FRAME = 16 * 2**20
FAST_SEND_BUFFER = 256 * 1024  # beyond this, wait for the socket to drain


class AgentConnectError(Exception):
    """The agent conversation could not be opened (network, auth, handshake)."""


class AgentSink(Protocol):
    """The runner side of an attached session."""

    async def agent_event(self, event: ae.AgentEvent) -> None: ...
    def agent_event_now(self, event: ae.AgentEvent) -> None: ...
    async def agent_closed(self, code: int | None) -> None: ...


class SignedUrlSource(Protocol):
    async def __call__(self, agent_id: str) -> str: ...


class ElevenLabsSignedUrls:
    """Signed conversation URLs through the ``elevenlabs`` SDK (one client, reused)."""

    def __init__(self, api_key: str, api_url: str) -> None:
        from elevenlabs.client import AsyncElevenLabs

        self._client = AsyncElevenLabs(api_key=api_key, base_url=api_url)

    async def __call__(self, agent_id: str) -> str:
        response = await self._client.conversational_ai.conversations.get_signed_url(
            agent_id=agent_id
        )
        return str(response.signed_url)


class AgentSession:
    """An open conversation; see the module docstring for the buffering contract."""

    def __init__(self, ws: ClientConnection, metadata: ae.InitiationMetadata) -> None:
        self.ws = ws
        self.metadata = metadata
        self.connect_s = 0.0
        self.protocol_errors = 0
        self._buffer: list[ae.AgentEvent] = [metadata]
        self._sink: AgentSink | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        # Frames are serialized here only where the library would add nothing.
        self._own_frames = not ws.protocol.extensions
        self._mask_keys = MaskKeys()

    def start_reading(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="agent-reader")

    async def attach(self, sink: AgentSink) -> None:
        """Hand the session to a call: buffered events first, in order, then live ones."""
        while self._buffer:
            await sink.agent_event(self._buffer.pop(0))
        self._sink = sink
        if self._closed:
            await sink.agent_closed(self.ws.close_code)

    def send_now(self, text: str) -> bool:
        """Write one text frame at once if nothing stands in the way; False otherwise.

        A caller's 20 ms frame goes to the agent fifty times a second, and the asyncio
        connection's ``send`` (a context manager, a state check and a drain per frame)
        and the library's frame serializer (a random-number system call per frame)
        were a third of the gateway's CPU. While the socket is open, not mid-fragment
        and its write buffer is small, the frame is written here, synchronously, by
        :func:`~gateway.ws_frames.client_text_frame`, after anything the sans-I/O
        protocol has queued (a pong, say). When this returns False, :meth:`send`
        applies back-pressure (or finds the socket closed).
        """
        ws = self.ws
        if (
            ws.protocol.state is not State.OPEN
            or ws.send_in_progress is not None
            or ws.transport.get_write_buffer_size() >= FAST_SEND_BUFFER
        ):
            return False
        if self._own_frames:
            if ws.protocol.writes:  # a pong or a close the protocol queued goes first
                ws.send_data()
            ws.transport.write(client_text_frame(text.encode(), self._mask_keys))
        else:
            ws.protocol.send_text(text.encode())
            ws.send_data()
        return True

    async def send(self, text: str) -> None:
        """Send one text frame; the reader reports a closed socket, not this."""
        if self.send_now(text):
            return
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        """Close the socket and stop the reader; safe to call more than once."""
        self._sink = None
        try:
            await asyncio.wait_for(self.ws.close(), 1.0)
        except (TimeoutError, OSError):
            self.ws.transport.abort()
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        ws = self.ws
        offers = ws if isinstance(ws, AgentConnection) else None
        try:
            async for raw in ws:
                try:
                    event = ae.parse(raw)
                except ProtocolError:
                    self.protocol_errors += 1
                    continue
                sink = self._sink
                if sink is not None:
                    await sink.agent_event(event)
                elif isinstance(event, ae.Ping):
                    await ws.send(ae.pong_message(event.event_id))
                else:
                    self._buffer.append(event)
                if offers is not None and self._sink is not None:
                    # Between two messages, from the reading task: see gateway/ws_client.py.
                    offers.offer_texts(self._text_now)
        except ConnectionClosed:
            pass
        finally:
            self._closed = True
            sink = self._sink
            if sink is not None:
                await sink.agent_closed(ws.close_code)

    def _text_now(self, data: BytesLike) -> bool:
        """One message straight from the socket (attached only); False: the reader's."""
        sink = self._sink
        if sink is None:
            return False
        try:
            event = ae.parse(data)
        except ProtocolError:
            try:
                bytes(data).decode()
            except UnicodeDecodeError:
                return False  # the library closes with 1007, as it always did
            self.protocol_errors += 1
            return True
        sink.agent_event_now(event)
        return True


class AgentConnector:
    """Opens agent conversations for one ElevenLabs agent."""

    def __init__(
        self,
        *,
        agent_id: str,
        ws_url: str,
        signed_urls: SignedUrlSource | None,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.agent_id = agent_id
        self.ws_url = ws_url
        self.signed_urls = signed_urls
        self.connect_timeout_s = connect_timeout_s

    async def _url(self) -> str:
        if self.signed_urls is not None:
            return await self.signed_urls(self.agent_id)
        sep = "&" if "?" in self.ws_url else "?"
        return f"{self.ws_url}{sep}{urlencode({'agent_id': self.agent_id})}"

    async def open(self, initiation: str) -> AgentSession:
        """Open, send the initiation frame and wait for the agent's metadata.

        Raises:
            AgentConnectError: on any failure within the connect timeout.
        """
        started = time.perf_counter()
        ws: ClientConnection | None = None
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                url = await self._url()
                ws = await connect(
                    url,
                    max_size=AGENT_MAX_FRAME,
                    compression=None,
                    open_timeout=None,
                    create_connection=AgentConnection,
                )
                await ws.send(initiation)
                metadata = await self._handshake(ws)
        except asyncio.CancelledError:
            # The call ended while we were connecting: do not leave the socket open.
            if ws is not None:
                ws.transport.abort()
            raise
        except Exception as exc:
            if ws is not None:
                ws.transport.abort()
            raise AgentConnectError(f"{type(exc).__name__}: {exc}"[:300]) from exc
        session = AgentSession(ws, metadata)
        session.connect_s = time.perf_counter() - started
        session.start_reading()
        return session

    @staticmethod
    async def _handshake(ws: ClientConnection) -> ae.InitiationMetadata:
        early: list[ae.AgentEvent] = []
        while True:
            event = ae.parse(await ws.recv())
            if isinstance(event, ae.InitiationMetadata):
                if early:
                    raise AgentConnectError("agent sent events before its metadata")
                return event
            if isinstance(event, ae.Ping):
                await ws.send(ae.pong_message(event.event_id))
            elif isinstance(event, ae.ErrorEvent):
                raise AgentConnectError(f"agent refused: {event.code} {event.message}")
            else:
                early.append(event)
