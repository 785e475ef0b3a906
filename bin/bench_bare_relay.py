"""A bare relay: Twilio Media Streams <-> the agent socket, and nothing else.

Why it ships with the benchmark: the gateway's capacity depends on this host as much
as on the gateway (the same code has measured from 3.7 to 5.5 ms of CPU per
call-second here on different days). ``parley bench --baseline`` runs the same load
through this relay, in the gateway's place, so the report can put the gateway beside
what a relay that does nothing but move frames holds on the same host at the same
time. It is the relay the issue's target speaks of, written the way one usually is:
the serving stack measured in DESIGN.md (uvicorn, uvloop, its stock
``websockets-sansio`` implementation, Starlette), the ``websockets`` client for the
agent, orjson, and one task per direction per call.

What it leaves out is everything the gateway is for: no signature or stream-token
check, no call registry, organization or session, no recording, no play-out pacing or
marks, no barge-in dropping (an ``interruption`` becomes a ``clear``, nothing more),
no tools, live hub, metrics or logs, no prewarm. Never expose it: it trusts every
request. The agent's audio chunks go to Twilio as they come, one ``media`` message
each (Twilio accepts any length); the caller's frames go to the agent one by one.

Run as ``python -m bin.bench_bare_relay --host 127.0.0.1 --port N`` with
``PARLEY_PUBLIC_URL`` and ``PARLEY_ELEVENLABS_WS_URL`` set, as the gateway is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Sequence

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from twilio.twiml.voice_response import Connect, VoiceResponse
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

AGENT_MAX_SIZE = 16 * 1024 * 1024
FIRST_MESSAGE = "Hello, this is the bench relay."


def stream_url(public_url: str) -> str:
    """The media socket's URL under ``public_url`` (http -> ws, https -> wss)."""
    base = public_url.rstrip("/")
    scheme, _, rest = base.partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest + "/twilio/media"


def initiation(call_sid: str) -> str:
    """The agent's opening message: who the call is, and that the agent speaks first."""
    return orjson.dumps(
        {
            "type": "conversation_initiation_client_data",
            "dynamic_variables": {"call_sid": call_sid},
            "conversation_config_override": {"agent": {"first_message": FIRST_MESSAGE}},
        }
    ).decode()


def create_app(public_url: str, agent_url: str) -> Starlette:
    media_url = stream_url(public_url)

    async def health(request: Request) -> Response:
        return Response("ok")

    async def voice(request: Request) -> Response:
        form = await request.form()
        twiml = VoiceResponse()
        connect_verb = Connect()
        stream = connect_verb.stream(url=media_url)
        stream.parameter(name="call_sid", value=str(form.get("CallSid", "")))
        twiml.append(connect_verb)
        twiml.hangup()
        return Response(str(twiml), media_type="application/xml")

    async def status(request: Request) -> Response:
        return Response(status_code=204)

    async def media(ws: WebSocket) -> None:
        await ws.accept()
        agent: ClientConnection | None = None
        to_twilio: asyncio.Task[None] | None = None
        try:
            while True:
                msg = orjson.loads(await ws.receive_text())
                event = msg.get("event")
                if event == "media" and agent is not None:
                    await agent.send('{"user_audio_chunk":"' + msg["media"]["payload"] + '"}')
                elif event == "start" and agent is None:
                    start = msg["start"]
                    agent = await connect(agent_url, max_size=AGENT_MAX_SIZE, compression=None)
                    await agent.send(initiation(str(start["callSid"])))
                    to_twilio = asyncio.create_task(_agent_to_twilio(agent, ws, start["streamSid"]))
                elif event == "stop":
                    break
        except (WebSocketDisconnect, ConnectionClosed, KeyError, TypeError, ValueError):
            pass
        finally:
            if to_twilio is not None:
                to_twilio.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await to_twilio
            if agent is not None:
                await agent.close()
            with contextlib.suppress(RuntimeError):
                await ws.close()

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/twilio/voice", voice, methods=["POST"]),
            Route("/twilio/status", status, methods=["POST"]),
            WebSocketRoute("/twilio/media", media),
        ]
    )


async def _agent_to_twilio(agent: ClientConnection, ws: WebSocket, stream_sid: str) -> None:
    head = '{"event":"media","streamSid":"' + stream_sid + '","media":{"payload":"'
    clear = '{"event":"clear","streamSid":"' + stream_sid + '"}'
    try:
        async for raw in agent:
            msg = orjson.loads(raw)
            kind = msg.get("type")
            if kind == "audio":
                await ws.send_text(head + msg["audio_event"]["audio_base_64"] + '"}}')
            elif kind == "ping":
                event_id = int(msg["ping_event"]["event_id"])
                await agent.send('{"type":"pong","event_id":' + str(event_id) + "}")
            elif kind == "interruption":
                await ws.send_text(clear)
    except (ConnectionClosed, WebSocketDisconnect, RuntimeError, KeyError, TypeError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bin.bench_bare_relay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    public_url = os.environ.get("PARLEY_PUBLIC_URL", f"http://{args.host}:{args.port}")
    agent_url = os.environ["PARLEY_ELEVENLABS_WS_URL"]
    uvicorn.run(
        create_app(public_url, agent_url),
        host=args.host,
        port=args.port,
        loop="uvloop",
        ws="websockets-sansio",
        ws_ping_interval=None,
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
