"""Running the gateway under uvicorn, as a process (``serve``) or inside a loop (demo, tests).

The serving stack is the one measured in DESIGN.md: uvloop and uvicorn's
``websockets-sansio`` implementation (with the gateway's synchronous write extension,
``gateway.ws_server``). The server-wide websocket limit stays small:
only Twilio and supervisors connect to us, and neither sends large frames.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from config.settings import Settings
from gateway.app import create_app
from gateway.drain import drain
from gateway.ws_server import MediaWebSocketProtocol

WS_MAX_SIZE = 256 * 1024


def uvicorn_config(
    settings: Settings, host: str, port: int, app: Starlette | None = None, **extra: Any
) -> uvicorn.Config:
    return uvicorn.Config(
        app or create_app(settings),
        host=host,
        port=port,
        loop="uvloop",
        ws=MediaWebSocketProtocol,
        ws_max_size=WS_MAX_SIZE,
        ws_ping_interval=None,
        lifespan="on",
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # signatures use PARLEY_PUBLIC_URL, not forwarded headers
        **extra,
    )


class DrainingServer(uvicorn.Server):
    """uvicorn, except that the first SIGTERM drains the gateway before it stops.

    While it drains, the socket keeps listening (``/health`` says 503, the calls in
    progress go on); a second SIGTERM, or SIGINT, stops at once as uvicorn does.
    """

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self._app = app
        self._drain: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        services = getattr(self._app.state, "services", None)
        if sig != signal.SIGTERM or self._drain is not None or services is None:
            super().handle_exit(sig, frame)
            return
        # A signal handler runs between two bytecodes of the loop's thread: hand over.
        asyncio.get_event_loop().call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        if self._drain is None:
            self._drain = asyncio.create_task(self._drain_then_exit(), name="drain")

    async def _drain_then_exit(self) -> None:
        services = self._app.state.services
        try:
            await drain(services, services.settings.drain_timeout_s)
        finally:
            super().handle_exit(signal.SIGTERM, None)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class InProcessGateway:
    """A gateway served by uvicorn as a task of the running loop."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.app = create_app(settings)
        config = uvicorn_config(settings, self.host, self.port, self.app)
        config.loop = "none"
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("gateway stopped during start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await self._task
