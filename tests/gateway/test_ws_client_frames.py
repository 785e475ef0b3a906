"""Text frames written by ``gateway.ws_client_frames``, read back by a websockets server."""

from __future__ import annotations

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from gateway.ws_client_frames import MaskKeys, text_frame


def server_reads(data: bytes) -> list[tuple[Opcode, bytes, bool]]:
    """What a websockets server makes of ``data`` arriving on an open connection."""
    client = ClientProtocol(parse_uri("ws://127.0.0.1/v1/convai/conversation"))
    client.send_request(client.connect())
    server = ServerProtocol(max_size=None)
    server.receive_data(b"".join(client.data_to_send()))
    [request] = server.events_received()
    assert isinstance(request, Request)
    server.send_response(server.accept(request))
    server.receive_data(data)
    assert server.parser_exc is None, server.parser_exc
    frames = server.events_received()
    assert all(isinstance(frame, Frame) for frame in frames)
    return [(f.opcode, bytes(f.data), f.fin) for f in frames if isinstance(f, Frame)]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 3 * 2**20 + 7])
def test_a_frame_of_any_length_reads_back_as_the_same_text(size: int) -> None:
    payload = ("é" * size).encode()[:size] if size % 2 == 0 else b"x" * size
    assert server_reads(text_frame(payload, MaskKeys())) == [(Opcode.TEXT, payload, True)]


def test_frames_back_to_back_read_back_in_order() -> None:
    keys = MaskKeys()
    payloads = [b'{"user_audio_chunk":"' + bytes([65 + i]) * 216 + b'"}' for i in range(20)]
    stream = b"".join(text_frame(p, keys) for p in payloads)
    assert server_reads(stream) == [(Opcode.TEXT, p, True) for p in payloads]


def test_every_frame_gets_a_fresh_masking_key_across_refills() -> None:
    keys = MaskKeys()
    frames = [text_frame(b"same text", keys) for _ in range(3000)]  # > one 1024-key block
    masking_keys = {frame[2:6] for frame in frames}
    assert len(masking_keys) > 2990  # random 32-bit keys: a few collisions at most
    assert all(server_reads(frame) == [(Opcode.TEXT, b"same text", True)] for frame in frames)
