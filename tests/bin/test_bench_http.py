"""The Twilio peer's webhook POST: the request a server receives, and answers it reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pytest

from bin import bench_http


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[bytes], list[bytes]]]:
    """A raw HTTP server: (its URL, requests it got, answers it will give in turn)."""
    requests: list[bytes] = []
    answers: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        requests.append(head + await reader.readexactly(length))
        writer.write(answers.pop(0))
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", requests, answers
    srv.close()


async def test_a_form_post_and_its_answer(server: tuple[str, list[bytes], list[bytes]]) -> None:
    url, requests, answers = server
    answers.append(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n<Twiml/>\n")
    form = {"CallSid": "CA1", "From": "+34600100001"}
    status, body = await bench_http.post_form(
        url + "/twilio/voice", form, {"X-Twilio-Signature": "abc="}
    )
    assert (status, body) == (200, b"<Twiml/>\n")
    head, _, sent = requests[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /twilio/voice HTTP/1.1\r\n")
    assert b"\r\nX-Twilio-Signature: abc=" in head
    assert b"\r\nContent-Type: application/x-www-form-urlencoded" in head
    assert {k: v[0] for k, v in parse_qs(sent.decode()).items()} == form


async def test_a_chunked_answer_and_a_refusal(server: tuple[str, list[bytes], list[bytes]]) -> None:
    url, _, answers = server
    answers.append(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n<Res\r\n5\r\nponse\r\n0\r\n\r\n"
    )
    answers.append(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    assert await bench_http.post_form(url, {}, {}) == (200, b"<Response")
    assert await bench_http.post_form(url, {}, {}) == (403, b"")


async def test_an_answer_that_is_not_http_is_an_error(
    server: tuple[str, list[bytes], list[bytes]],
) -> None:
    url, _, answers = server
    answers.append(b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(bench_http.HttpError, match="not an HTTP"):
        await bench_http.post_form(url, {}, {})
