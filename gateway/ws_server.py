"""uvicorn's ``websockets-sansio`` protocol, plus two ASGI extensions: write and read now.

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

The other direction is the same story: each of Twilio's 50 frames a second went
through uvicorn's queue, a pause and resume of reading, and a wake-up of the call's
task through a dozen coroutine frames. ``scope["extensions"][READ_TEXT]`` is
``set_reader(reader | None)``: while a reader is set and uvicorn's queue is empty, each
complete text message is offered to ``reader(text) -> bool`` right here, in
``data_received``; a reader that returns False has declined it, and the message is
queued for ``receive()`` as usual (and so is every later one until the queue is empty
again, which keeps the order). Disconnects, binary messages and anything after a
close always take uvicorn's path.

Below both, the frames themselves: websockets' parser (a generator per frame, a
``Frame`` object, checks) was the largest remaining cost per caller frame. The one
frame Twilio sends fifty times a second, a complete masked text frame with no
extension bits, is cut out of the byte stream and unmasked here
(:class:`~gateway.ws_frames.FrameSplitter`);
every other frame (control, fragmented, binary, oversized, reserved bits) is handed
to the library whole, so the library always sees complete frames and stays at a frame
boundary, and it answers pings, closes and protocol errors exactly as before. This
mode starts only with a clean slate (no byte past the upgrade request already read)
and ends for good once a close is under way or an extension was negotiated.

Everything else (handshake, ping, close) is uvicorn's. Under another ASGI server the
extensions are simply absent and the gateway uses ``send`` and ``receive``.
"""

from __future__ import annotations

from collections.abc import Callable

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from gateway.ws_frames import FrameSplitter, server_text_frames

WRITE_TEXT = "parley.websocket.write_text"
READ_TEXT = "parley.websocket.read_text"

WriteText = Callable[[list[str]], bool]
TextReader = Callable[[str], bool]
SetReader = Callable[[TextReader | None], None]


class MediaWebSocketProtocol(WebSocketsSansIOProtocol):
    """See the module docstring; configured with ``uvicorn.Config(ws=...)``."""

    _reader: TextReader | None = None
    _fast: FrameSplitter | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = self.__dict__.get("scope")
        if scope is not None:  # the upgrade was accepted; the app has not started yet
            scope["extensions"][WRITE_TEXT] = self.write_text
            scope["extensions"][READ_TEXT] = self.set_reader
            if not self.conn.reader.buffer:  # the library holds no frame byte yet
                self._fast = FrameSplitter(self.config.ws_max_size, masked=True)

    def data_received(self, data: bytes) -> None:
        fast = self._fast
        if fast is None:
            super().data_received(data)
            return
        if (
            not self.handshake_complete
            or self.close_sent
            or self.conn.extensions
            or self.conn.state is not State.OPEN
        ):
            self._fast = None  # at a frame boundary: the library takes over from here
            super().data_received(fast.rest(data))
            return
        for payload, frame in fast.split(data):
            if payload is not None:
                try:
                    text = payload.decode()
                except UnicodeDecodeError:
                    pass  # the library closes with 1007
                else:
                    if not self._offer(text):
                        self.curr_msg_data_type = "text"
                        self.frames = [payload]
                        WebSocketsSansIOProtocol.send_receive_event_to_app(self)
                    continue
            super().data_received(frame)  # a complete frame (or the rest), for the library
            if self.transport.is_closing():
                return

    def set_reader(self, reader: TextReader | None) -> None:
        """Offer complete text messages to ``reader`` from now on (None: stop)."""
        self._reader = reader

    def send_receive_event_to_app(self) -> None:
        """A message the library assembled: offered to the reader first, if it is text."""
        if self._reader is not None and self.curr_msg_data_type == "text":
            try:
                text = b"".join(self.frames).decode()
            except UnicodeDecodeError:
                pass  # uvicorn's path reports it and closes with 1007
            else:
                if self._offer(text):
                    self.frames = []
                    return
        super().send_receive_event_to_app()

    def _offer(self, text: str) -> bool:
        """Whether the reader took ``text``; never while earlier messages are queued."""
        reader = self._reader
        return (
            reader is not None and not self.close_sent and self.queue.empty() and reader(text)
        )

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
        self.transport.write(server_text_frames(texts))
        return True


__all__ = [
    "READ_TEXT",
    "WRITE_TEXT",
    "MediaWebSocketProtocol",
    "SetReader",
    "TextReader",
    "WriteText",
]
