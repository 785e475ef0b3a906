"""One port for REST and websocket: each connection's request head decides its route.

Why: ``ElevenLabs(base_url=...)`` sends REST calls and opens conversation sockets on
the same host (reference §9.1), and the agents API needs request bodies
(``POST /v1/convai/agents/create``, ``PATCH /v1/convai/agents/{id}``), which the
``websockets`` handshake parser refuses outright. So the server's connection class
reads a new connection's bytes until the request head is complete, then:

- a websocket upgrade (or anything aimed at the conversation path) is handed, bytes
  untouched, to ``websockets`` (its handshake, ``process_request`` vetting, frames);
  from then on every ``data_received`` goes straight to it;
- any other request is parsed with ``h11`` (a sans-I/O HTTP/1.1 parser), answered by
  the stand-in's REST router, and the connection is closed (``Connection: close``),
  which also ends the idle ``websockets`` handshake quietly.

Nothing is copied or proxied once a socket is upgraded, so the media path pays one
attribute test per TCP read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

import h11
import orjson
from websockets.asyncio.server import ServerConnection

#: Request heads and bodies beyond these sizes are refused (the service has limits too).
MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RestRequest:
    method: str
    path: str
    query: dict[str, str]
    #: Header names in lower case.
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class RestResponse:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def json(cls, status: int, payload: object) -> RestResponse:
        return cls(status, orjson.dumps(payload), (("content-type", "application/json"),))


RestHandler = Callable[[RestRequest], RestResponse]


def connection_class(rest: RestHandler, websocket_paths: frozenset[str]) -> type[ServerConnection]:
    """A :class:`ServerConnection` subclass that routes plain HTTP to ``rest``."""

    class _Connection(_SplitConnection):
        _rest = staticmethod(rest)
        _ws_paths = websocket_paths

    return _Connection


class _SplitConnection(ServerConnection):
    _rest: RestHandler
    _ws_paths: frozenset[str]
    _mode: str = "sniff"  # sniff -> websocket | http
    _head: bytearray
    _http: h11.Connection

    def data_received(self, data: bytes) -> None:
        if self._mode == "websocket":
            super().data_received(data)
        elif self._mode == "http":
            self._http_data(data)
        else:
            self._sniff(data)

    def eof_received(self) -> None:
        if self._mode != "http":
            super().eof_received()

    def _sniff(self, data: bytes) -> None:
        if not hasattr(self, "_head"):
            self._head = bytearray()
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_HEAD:
                self._mode = "http"
                self._reply(RestResponse.json(431, {"detail": "request head too large"}))
            return
        buffered = bytes(self._head)
        del self._head
        if _is_websocket(buffered[:end], self._ws_paths):
            self._mode = "websocket"
            super().data_received(buffered)
            return
        self._mode = "http"
        self._http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._body = bytearray()
        self._request: h11.Request | None = None
        self._http_data(buffered)

    def _http_data(self, data: bytes) -> None:
        if getattr(self, "_replied", False):
            return  # already answered; the rest is ignored until we close
        conn = self._http
        conn.receive_data(data)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._reply(RestResponse.json(exc.error_status_hint, {"detail": str(exc)}))
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self._request = event
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > MAX_BODY:
                    self._reply(RestResponse.json(413, {"detail": "request body too large"}))
                    return
            elif isinstance(event, h11.EndOfMessage):
                self._dispatch()
                return
            elif isinstance(event, h11.ConnectionClosed):
                return

    def _dispatch(self) -> None:
        assert self._request is not None
        target = self._request.target.decode("latin-1")
        parts = urlsplit(target)
        request = RestRequest(
            method=self._request.method.decode("ascii").upper(),
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in self._request.headers
            },
            body=bytes(self._body),
        )
        try:
            response = self._rest(request)
        except Exception:  # a bug in a route must not kill the stand-in
            self.logger.error("elevenlabs stand-in REST route failed", exc_info=True)
            response = RestResponse.json(500, {"detail": "Internal Server Error"})
        self._reply(response)

    def _reply(self, response: RestResponse) -> None:
        """Write the whole response and close (no keep-alive: clients reconnect)."""
        if getattr(self, "_replied", False):
            return
        self._replied = True
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        lines = [f"HTTP/1.1 {response.status} {reason}"]
        lines += [f"{name}: {value}" for name, value in response.headers]
        lines += [f"content-length: {len(response.body)}", "connection: close", "", ""]
        transport = self.transport
        transport.write("\r\n".join(lines).encode("latin-1") + response.body)
        asyncio.get_running_loop().call_soon(transport.close)


def _is_websocket(head: bytes, ws_paths: frozenset[str]) -> bool:
    lines = head.split(b"\r\n")
    request_line = lines[0].split(b" ")
    if len(request_line) >= 2:
        path = urlsplit(request_line[1].decode("latin-1")).path
        if path in ws_paths:
            return True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"upgrade" and b"websocket" in value.lower():
            return True
    return False
