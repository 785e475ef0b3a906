"""A tiny stand-in *gateway* for testing the Twilio stand-in: TwiML routes and a socket.

It checks every signature with the twilio SDK's ``RequestValidator`` against the
public URL (as the real gateway must), records what it received, and runs a
per-test scenario on the media socket (send audio, marks, clear...).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

PUBLIC = "https://public.example"
MEDIA_URL = "wss://public.example/twilio/media"


@dataclass
class Hook:
    path: str
    form: dict[str, str]
    valid: bool
    at: float = field(default_factory=time.monotonic)


@dataclass
class MediaSession:
    """The gateway's view of one media socket."""

    ws: WebSocket
    handshake_valid: bool
    stream_sid: str = ""
    start: dict[str, Any] = field(default_factory=dict)
    #: (receive time, message) for everything after ``start``.
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    first: list[dict[str, Any]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(orjson.dumps(message).decode())

    async def media(self, audio: bytes) -> None:
        payload = base64.b64encode(audio).decode()
        await self.send(
            {"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}}
        )

    async def mark(self, name: str) -> None:
        await self.send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def clear(self) -> None:
        await self.send({"event": "clear", "streamSid": self.stream_sid})

    def events(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in self.messages if m.get("event") == kind]

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.005)


Scenario = Callable[[MediaSession], Awaitable[None]]


def default_twiml() -> str:
    response = VoiceResponse()
    stream = response.connect().stream(url=MEDIA_URL)
    stream.parameter(name="call_token", value="t-123")
    response.hangup()
    return str(response)


class FakeGateway:
    def __init__(self, auth_token: str, scenario: Scenario | None = None) -> None:
        self.validator = RequestValidator(auth_token)
        self.scenario = scenario
        self.twiml: Callable[[], str] = default_twiml
        self.hooks: list[Hook] = []
        self.sessions: list[MediaSession] = []
        #: Close the socket when the scenario returns (else wait for Twilio's stop).
        self.close_after_scenario = False
        routes = [
            Route("/twilio/{name}", self._webhook, methods=["POST", "GET"]),
            WebSocketRoute("/twilio/media", self._media),
        ]
        self.app = Starlette(routes=routes)

    def hooks_at(self, name: str) -> list[Hook]:
        return [hook for hook in self.hooks if hook.path == f"/twilio/{name}"]

    async def _webhook(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        url = PUBLIC + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signature = request.headers.get("X-Twilio-Signature", "")
        params = form if request.method == "POST" else {}
        valid = self.validator.validate(url, params, signature)
        if request.method == "GET":
            form = dict(request.query_params)
        self.hooks.append(Hook(request.url.path, form, valid))
        if request.url.path in ("/twilio/voice", "/twilio/action"):
            return Response(self.twiml(), media_type="application/xml")
        return Response(status_code=204)

    async def _media(self, ws: WebSocket) -> None:
        signature = ws.headers.get("x-twilio-signature", "")
        session = MediaSession(ws, self.validator.validate(MEDIA_URL, {}, signature))
        self.sessions.append(session)
        await ws.accept()
        for _ in range(2):
            session.first.append(orjson.loads(await ws.receive_text()))
        session.start = session.first[1]
        session.stream_sid = session.start["streamSid"]
        reader = asyncio.create_task(self._read(session))
        try:
            if self.scenario is not None:
                await self.scenario(session)
            if self.close_after_scenario:
                await ws.close()
            await reader
        finally:
            reader.cancel()
            session.closed.set()

    @staticmethod
    async def _read(session: MediaSession) -> None:
        try:
            while True:
                message = orjson.loads(await session.ws.receive_text())
                session.messages.append((time.monotonic(), message))
                if message.get("event") == "stop":
                    return
        except (WebSocketDisconnect, RuntimeError):
            return


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn on a free port; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, ws="websockets-sansio", log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to await
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
