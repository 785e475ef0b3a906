"""uvicorn's ``websockets-sansio`` protocol, plus one ASGI extension: write text now.

Why: ASGI sends one message per ``await send(...)``. For the media socket that is a
coroutine chain (Starlette's wrapper, uvicorn's ``send``, its ``writable`` event), a
frame serialization and a ``write`` system call per 20 ms of agent audio, and the
gateway releases agent audio to Twilio in batches of about seven frames and a mark.
This protocol puts a plain function in the connection's scope, under
``scope["extensions"][WRITE_TEXT]``: ``write(texts) -> bool`` serializes the whole
batch as text frames and hands it to the transport in one ``write``, synchronously.
It returns False, and writes nothing, whenever uvicorn's own ``send`` would have to
wait or refuse (handshake not done, close sent, peer gone, transport paused): the
caller then sends through ASGI as usual, so back-pressure and errors are unchanged.

Everything else (handshake, receive, ping, close) is uvicorn's. Under another ASGI
server the extension is simply absent and the gateway uses ``send``.
"""

from __future__ import annotations

from collections.abc import Callable

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from gateway.ws_frames import server_text_frame

WRITE_TEXT = "parley.websocket.write_text"

WriteText = Callable[[list[str]], bool]


class MediaWebSocketProtocol(WebSocketsSansIOProtocol):
    """See the module docstring; configured with ``uvicorn.Config(ws=...)``."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = self.__dict__.get("scope")
        if scope is not None:  # the upgrade was accepted; the app has not started yet
            scope["extensions"][WRITE_TEXT] = self.write_text

    def write_text(self, texts: list[str]) -> bool:
        """Write ``texts`` as text frames at once; False (nothing written) if not now."""
        conn = self.conn
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.initial_response is not None
            or not self.writable.is_set()
            or conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        if conn.extensions:  # compression negotiated: the library frames the messages
            for text in texts:
                conn.send_text(text.encode())
            self.transport.write(b"".join(conn.data_to_send()))
            return True
        if conn.writes:  # keep order with anything the protocol has queued (a pong)
            self.transport.write(b"".join(conn.data_to_send()))
        if len(texts) == 1:
            self.transport.write(server_text_frame(texts[0].encode()))
        else:
            self.transport.write(b"".join([server_text_frame(t.encode()) for t in texts]))
        return True


__all__ = ["WRITE_TEXT", "MediaWebSocketProtocol", "WriteText"]
