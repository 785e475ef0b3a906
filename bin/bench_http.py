"""The Twilio peer's webhook request: one form POST on its own HTTP/1.1 connection.

Why not ``httpx``: placing a few hundred calls in a second or two queued requests in
its connection pool, whose bookkeeping (every queued request against every
connection, on every change) then cost the peer more CPU than its media, during the
measured window, and left some requests waiting past the set-up timeout. Twilio
itself opens connections as it needs them; so does this: ``Connection: close``, the
form body with its ``Content-Length``, and an answer read up to its
``Content-Length`` (or a chunked body, or the close).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode, urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024


class HttpError(ConnectionError):
    """The answer was not HTTP/1.1 as expected."""


async def post_form(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, bytes]:
    """POST ``form`` (urlencoded) to ``http://host:port/path``; (status, body)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"bench webhook: only http:// URLs, not {url!r}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = urlencode(form).encode("ascii")
    lines = [
        f"POST {target} HTTP/1.1",
        f"Host: {parts.netloc}",
        "User-Agent: TwilioProxy/1.1",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise HttpError(f"no complete answer head: {exc}") from None
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        status = status_line.split(" ", 2)
        if len(status) < 2 or not status[0].startswith("HTTP/1.") or not status[1].isdigit():
            raise HttpError(f"not an HTTP/1.x answer: {status_line[:80]!r}")
        fields = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        return int(status[1]), await _body(reader, fields)
    finally:
        writer.close()


async def _body(reader: asyncio.StreamReader, fields: dict[str, str]) -> bytes:
    if "chunked" in fields.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        size = 0
        while True:
            length = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            size += length
            if size > MAX_BODY:
                raise HttpError("answer body too large")
            chunk = await reader.readexactly(length + 2)
            if length == 0:
                return b"".join(chunks)
            chunks.append(chunk[:-2])
    if "content-length" in fields:
        length = int(fields["content-length"])
        if length > MAX_BODY:
            raise HttpError("answer body too large")
        return await reader.readexactly(length)
    return await reader.read(MAX_BODY)
