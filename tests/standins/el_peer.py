"""A bare websocket client of the ElevenLabs stand-in, for tests that speak the protocol."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError

from gateway.standins.elevenlabs import AgentOptions, ElevenLabsStandIn
from gateway.standins.speech import synthesize
from media import mulaw


class Peer:
    """A raw client: records every server event with its arrival time."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.close_error: ConnectionClosedError | None = None
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.events.append((time.monotonic(), orjson.loads(raw)))
        except ConnectionClosedError as exc:
            self.close_error = exc

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for _, event in self.events if event["type"] == kind]

    async def wait_for(self, kind: str, count: int = 1, timeout_s: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while len(self.of(kind)) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        return self.of(kind)[count - 1]

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def init(self, **override: Any) -> None:
        await self.send(
            {
                "type": "conversation_initiation_client_data",
                "dynamic_variables": override.pop("dynamic_variables", {}),
                "conversation_config_override": {"agent": override} if override else {},
            }
        )

    async def say(self, text: str, *, silence_s: float = 0.7) -> None:
        """Send speech then silence, as 20 ms frames, 10x faster than real time."""
        audio = mulaw.encode(synthesize(text)) + b"\xff" * int(8000 * silence_s)
        for pos in range(0, len(audio), 160):
            chunk = audio[pos : pos + 160]
            await self.send({"user_audio_chunk": base64.b64encode(chunk).decode()})
            await asyncio.sleep(0.002)

    async def closed(self) -> None:
        await asyncio.wait_for(self._reader, 10)


@asynccontextmanager
async def peer(
    agent: ElevenLabsStandIn, query: str = "agent_id=agent_1", url: str | None = None
) -> AsyncIterator[Peer]:
    async with connect(url or f"{agent.ws_url}?{query}") as ws:
        client = Peer(ws)
        yield client


@asynccontextmanager
async def running(**options: Any) -> AsyncIterator[ElevenLabsStandIn]:
    async with ElevenLabsStandIn(AgentOptions(ping_interval_s=60, **options)) as agent:
        yield agent
