"""One port, two protocols: plain HTTP (with bodies) and websocket upgrades."""

from __future__ import annotations

import asyncio

import orjson

from gateway.standins.elevenlabs import AgentOptions, ElevenLabsStandIn, EndCall, Script
from tests.standins.el_peer import peer

KEY = "xi-front"
BODY = orjson.dumps(
    {"conversation_config": {"agent": {"first_message": "Hi.", "prompt": {"prompt": "p"}}}}
)
REQUEST = (
    b"POST /v1/convai/agents/create HTTP/1.1\r\nHost: x\r\nxi-api-key: " + KEY.encode()
    + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(BODY)).encode()
    + b"\r\n\r\n" + BODY
)


async def exchange(standin: ElevenLabsStandIn, raw: bytes, *, piece: int = 0) -> bytes:
    """Send ``raw`` (in ``piece``-byte writes if given) and read until the server closes."""
    reader, writer = await asyncio.open_connection(standin.host, standin.port)
    step = piece or len(raw)
    for pos in range(0, len(raw), step):
        writer.write(raw[pos : pos + step])
        await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def test_a_request_arriving_byte_by_byte_is_answered_like_a_whole_one() -> None:
    async with ElevenLabsStandIn(AgentOptions(api_key=KEY)) as standin:
        whole = await exchange(standin, REQUEST)
        sliced = await exchange(standin, REQUEST, piece=1)
    for answer in (whole, sliced):
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert b"connection: close" in head.lower()
        assert orjson.loads(body)["agent_id"].startswith("agent_")
    assert len(standin.agents) == 2


async def test_garbage_gets_an_error_status_and_the_port_keeps_serving() -> None:
    script = Script("en", "Hi.", (EndCall(via="system"),))
    async with ElevenLabsStandIn(AgentOptions(api_key=KEY, script=script)) as standin:
        bad_line = await exchange(standin, b"NOT HTTP AT ALL\r\n\r\n")
        huge_head = await exchange(standin, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n")
        async with peer(standin) as client:
            await client.init()
            await client.closed()
        record = await standin.wait_for_conversation()
    assert bad_line.startswith(b"HTTP/1.1 400")
    assert huge_head.startswith(b"HTTP/1.1 431")
    assert record.ended_with_end_call
