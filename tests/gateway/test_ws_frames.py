"""Text frames written by ``gateway.ws_frames``, read back by websockets' own parsers."""

from __future__ import annotations

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from gateway.ws_frames import MaskKeys, client_text_frame, server_text_frame, server_text_frames

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 3 * 2**20 + 7]


def open_pair() -> tuple[ClientProtocol, ServerProtocol]:
    """A websockets client and server, past the opening handshake."""
    client = ClientProtocol(parse_uri("ws://127.0.0.1/v1/convai/conversation"), max_size=None)
    client.send_request(client.connect())
    server = ServerProtocol(max_size=None)
    server.receive_data(b"".join(client.data_to_send()))
    [request] = server.events_received()
    assert isinstance(request, Request)
    server.send_response(server.accept(request))
    client.receive_data(b"".join(server.data_to_send()))
    client.events_received()
    return client, server


def read(side: ClientProtocol | ServerProtocol, data: bytes) -> list[tuple[Opcode, bytes, bool]]:
    side.receive_data(data)
    assert side.parser_exc is None, side.parser_exc
    frames = side.events_received()
    assert all(isinstance(frame, Frame) for frame in frames)
    return [(f.opcode, bytes(f.data), f.fin) for f in frames if isinstance(f, Frame)]


def payload_of(size: int) -> bytes:
    return ("é" * size).encode()[:size] if size % 2 == 0 else b"x" * size


@pytest.mark.parametrize("size", SIZES)
def test_a_client_frame_of_any_length_reads_back_as_the_same_text(size: int) -> None:
    _, server = open_pair()  # a server refuses unmasked frames from a client
    payload = payload_of(size)
    assert read(server, client_text_frame(payload, MaskKeys())) == [(Opcode.TEXT, payload, True)]


@pytest.mark.parametrize("size", SIZES)
def test_a_server_frame_of_any_length_reads_back_as_the_same_text(size: int) -> None:
    client, _ = open_pair()  # a client refuses masked frames from a server
    payload = payload_of(size)
    assert read(client, server_text_frame(payload)) == [(Opcode.TEXT, payload, True)]


def test_frames_back_to_back_read_back_in_order() -> None:
    client, server = open_pair()
    keys = MaskKeys()
    payloads = [b'{"user_audio_chunk":"' + bytes([65 + i]) * 216 + b'"}' for i in range(20)]
    expected = [(Opcode.TEXT, p, True) for p in payloads]
    assert read(server, b"".join(client_text_frame(p, keys) for p in payloads)) == expected
    assert read(client, b"".join(server_text_frame(p) for p in payloads)) == expected


def test_a_batch_of_server_frames_is_the_frames_one_after_another() -> None:
    client, _ = open_pair()
    texts = ["media " * n for n in (0, 1, 30, 20_000)] + ["é" * 70_000, "mark"]
    batch = server_text_frames(texts)
    assert batch == b"".join(server_text_frame(t.encode()) for t in texts)
    assert read(client, batch) == [(Opcode.TEXT, t.encode(), True) for t in texts]


def test_every_client_frame_gets_a_fresh_masking_key_across_refills() -> None:
    _, server = open_pair()
    keys = MaskKeys()
    frames = [client_text_frame(b"same text", keys) for _ in range(3000)]  # > one key block
    masking_keys = {frame[2:6] for frame in frames}
    assert len(masking_keys) > 2990  # random 32-bit keys: a few collisions at most
    assert read(server, b"".join(frames)) == [(Opcode.TEXT, b"same text", True)] * 3000
