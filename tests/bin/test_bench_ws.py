"""The bench peers' lean websocket endpoint, against the ``websockets`` library as the peer.

The bench measures the gateway through real sockets, so its endpoint must speak RFC
6455 as any implementation expects: a library client and a library server accept its
handshake and its frames (masked from the client, unmasked from the server), it
reassembles fragmented messages, answers pings, closes cleanly with the peer's code,
and fails a connection that breaks the rules instead of reading garbage.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect as library_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bin import bench_socket, bench_ws

Received = list[tuple[int, bytes]]


def _collector(expect: int = 1) -> tuple[Received, bench_ws.OnMessage, asyncio.Event]:
    """Messages received, the callback, and an event set once ``expect`` have come."""
    got: Received = []
    enough = asyncio.Event()

    def on_message(opcode: int, payload: bytes, now: int, arrived: int) -> None:
        assert 0 < arrived <= now
        got.append((opcode, payload))
        if len(got) >= expect:
            enough.set()

    return got, on_message, enough


def _bench_server(got: Received) -> tuple[bench_socket.StampedServer, list[bench_ws.WsEndpoint]]:
    """An echoing server of bench endpoints, on the agent peer's own stamped sockets."""
    endpoints: list[bench_ws.WsEndpoint] = []

    def on_message(opcode: int, payload: bytes, now: int, arrived: int) -> None:
        got.append((opcode, payload))
        endpoints[-1].send_text(b"echo:" + payload)

    def factory() -> bench_ws.WsEndpoint:
        endpoints.append(bench_ws.WsEndpoint(on_message, client=False, max_size=1000))
        return endpoints[-1]

    return bench_socket.StampedServer(factory, "127.0.0.1", 16), endpoints


async def test_the_client_talks_to_a_library_server() -> None:
    seen_headers: list[str] = []

    async def echo(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen_headers.append(ws.request.headers.get("X-Twilio-Signature", ""))
        seen_headers.append(ws.request.path)
        async for message in ws:
            assert isinstance(message, str)  # the bench sends text frames only
            await ws.send(f"echo:{message}")
        # (the library server closes after the client's close frame)

    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        got, on_message, enough = _collector(3)
        ws = await bench_ws.connect(
            f"ws://127.0.0.1:{port}/twilio/media?x=1",
            on_message,
            headers={"X-Twilio-Signature": "sig=="},
        )
        big = b'{"event":"media","payload":"' + b"A" * 70_000 + b'"}'  # 64-bit length form
        for message in (b"hello", b"x" * 300, big):
            assert ws.send_text(message)
        await asyncio.wait_for(enough.wait(), 5)
        assert got == [
            (bench_ws.OP_TEXT, b"echo:hello"),
            (bench_ws.OP_TEXT, b"echo:" + b"x" * 300),
            (bench_ws.OP_TEXT, b"echo:" + big),
        ]
        assert seen_headers == ["sig==", "/twilio/media?x=1"]
        ws.close(1000)
        await asyncio.wait_for(ws.closed, 5)
        assert ws.close_code == 1000
        assert not ws.send_text(b"too late")


async def test_the_client_sees_the_servers_close_code() -> None:
    async def hang_up(ws: ServerConnection) -> None:
        await ws.recv()
        await ws.close(4001, "bye")

    async with serve(hang_up, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        _, on_message, _ = _collector()
        ws = await bench_ws.connect(f"ws://127.0.0.1:{port}/", on_message)
        ws.send_text(b"stop")
        await asyncio.wait_for(ws.closed, 5)
        assert ws.close_code == 4001


async def test_a_non_websocket_answer_fails_the_handshake() -> None:
    async def http_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(http_only, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, on_message, _ = _collector()
    with pytest.raises(bench_ws.HandshakeError, match="403"):
        await bench_ws.connect(f"ws://127.0.0.1:{port}/", on_message)
    server.close()


async def test_the_server_talks_to_a_library_client() -> None:
    got: Received = []
    server, endpoints = _bench_server(got)
    port = server.port
    async with library_connect(f"ws://127.0.0.1:{port}/v1/convai?agent_id=a") as client:
        await client.send("one")
        assert await client.recv() == "echo:one"

        async def fragments() -> AsyncIterator[str]:
            for part in ("fra", "gmen", "ted"):
                yield part

        await client.send(fragments())  # a fragmented text message: reassembled
        assert await client.recv() == "echo:fragmented"
        await client.send(b"\x00\x01")  # binary is delivered as binary
        assert await client.recv() == "echo:\x00\x01"
        latency = await asyncio.wait_for(await client.ping(), 5)  # answered with a pong
        assert latency >= 0
    await asyncio.wait_for(endpoints[0].closed, 5)
    assert endpoints[0].path == "/v1/convai?agent_id=a"
    assert endpoints[0].close_code == 1000
    assert got == [
        (bench_ws.OP_TEXT, b"one"),
        (bench_ws.OP_TEXT, b"fragmented"),
        (bench_ws.OP_BINARY, b"\x00\x01"),
    ]
    server.close()


async def test_the_server_closes_and_the_library_client_sees_it() -> None:
    server, endpoints = _bench_server([])
    port = server.port
    async with library_connect(f"ws://127.0.0.1:{port}/") as client:
        await client.send("hi")
        await client.recv()
        endpoints[0].close(1001)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(client.recv(), 5)
        assert client.close_code == 1001
    await asyncio.wait_for(endpoints[0].closed, 5)
    server.close()


async def test_an_oversized_message_closes_with_1009() -> None:
    got: Received = []
    server, _ = _bench_server(got)
    port = server.port
    async with library_connect(f"ws://127.0.0.1:{port}/") as client:
        await client.send("x" * 1001)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(client.recv(), 5)
        assert client.close_code == 1009
    assert got == []
    server.close()


async def test_an_unmasked_client_frame_is_a_protocol_error() -> None:
    got: Received = []
    server, _ = _bench_server(got)
    port = server.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head  # RFC 6455 §1.3's example key
    # Not masked; then a well-formed frame, which must not be read after the error.
    writer.write(b"\x81\x02hi" + b"\x81\x82\x00\x00\x00\x00ok")
    close = await asyncio.wait_for(reader.read(), 5)  # the close frame, then EOF
    assert close[:2] == b"\x88\x02" and struct.unpack("!H", close[2:4])[0] == 1002
    assert got == []
    writer.close()
    server.close()


async def test_a_request_that_is_not_an_upgrade_gets_400() -> None:
    server, endpoints = _bench_server([])
    port = server.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 400")
    with pytest.raises(bench_ws.HandshakeError):
        await endpoints[0].opened
    writer.close()
    server.close()


def test_frame_headers_use_the_shortest_length_form() -> None:
    assert bench_ws.frame_header(bench_ws.OP_TEXT, 125, False) == b"\x81\x7d"
    assert bench_ws.frame_header(bench_ws.OP_TEXT, 126, True) == b"\x81\xfe\x00\x7e"
    assert bench_ws.frame_header(bench_ws.OP_TEXT, 65536, False) == (
        b"\x81\x7f" + (65536).to_bytes(8, "big")
    )


# ------------------------------------------------------------------ arrival stamps
async def _raw_client(port: int) -> socket.socket:
    """A bare socket past the opening handshake, to write frames by hand."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(
        sock,
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 4096)
    assert head.startswith(b"HTTP/1.1 101")
    return sock


async def test_a_message_is_stamped_when_it_reached_the_socket_not_when_it_was_read() -> None:
    """The peer's own delay (here: its event loop blocked) is not counted as latency."""
    times: list[tuple[int, int]] = []
    came = asyncio.Event()

    def on_message(opcode: int, payload: bytes, now: int, arrived: int) -> None:
        times.append((now, arrived))
        came.set()

    server = bench_socket.StampedServer(
        lambda: bench_ws.WsEndpoint(on_message, client=False), "127.0.0.1", 4
    )
    sock = await _raw_client(server.port)
    frame = b"\x81\x82\x00\x00\x00\x00hi"  # "hi", masked with a zero key
    # The kernel turns stamping on a moment after the first socket of the machine asks
    # for it (a deferred switch): untimed messages until one comes stamped.
    for _ in range(50):
        sock.send(frame)
        time.sleep(0.01)  # noqa: ASYNC251 - held up, so that a stamp is earlier than the read
        await asyncio.wait_for(came.wait(), 5)
        came.clear()
        if times[-1][1] < times[-1][0]:
            break
    times.clear()
    sent_ns = time.monotonic_ns()
    sock.send(frame)
    time.sleep(0.2)  # noqa: ASYNC251 - the point: the loop (the server's reader) is held up
    unblocked_ns = time.monotonic_ns()
    await asyncio.wait_for(came.wait(), 5)
    [(read_ns, arrived_ns)] = times
    assert sent_ns <= arrived_ns < unblocked_ns <= read_ns
    sock.close()
    server.close()


async def test_a_message_larger_than_the_socket_buffers_goes_out_whole() -> None:
    """Writes the kernel cannot take at once wait for the socket, in order."""
    received: list[int] = []

    async def count(ws: ServerConnection) -> None:
        async for message in ws:
            received.append(len(message))
            await ws.send(str(len(message)))

    async with serve(count, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        got, on_message, enough = _collector(2)
        ws = await bench_ws.connect(f"ws://127.0.0.1:{port}/", on_message)
        big = b"y" * (8 * 2**20)
        assert ws.send_texts([big, b"after"])
        await asyncio.wait_for(enough.wait(), 30)
        assert received == [len(big), 5]
        assert got == [(bench_ws.OP_TEXT, str(len(big)).encode()), (bench_ws.OP_TEXT, b"5")]
        ws.close(1000)
        await asyncio.wait_for(ws.closed, 5)


def test_an_arrival_is_never_after_the_read() -> None:
    assert bench_socket.arrival_ns([], 1_000) == 1_000  # no stamp: the read time
    now_wall = time.time_ns()
    late = struct.pack("@qq", now_wall // 10**9 + 60, 0)  # a minute in the future
    assert bench_socket.arrival_ns([(socket.SOL_SOCKET, bench_socket.SO_TIMESTAMPNS, late)], 5) == 5
