"""The agent socket's client connection, with complete text messages read at once.

Why: ``websockets``' asyncio connection hands every message to a reader task through
its ``Assembler`` (a queue, a future, a wake-up of the task and a dozen coroutine
frames per message). The agent sends a chunk of speech ten times a second per call,
and the gateway's answer to it (frames for Twilio, a ``clear`` on an interruption, a
``pong``) needs no await. :class:`AgentConnection` lets its owner set
:attr:`~AgentConnection.on_text`: while it is set, each complete, unfragmented text
frame is offered to it right in ``data_received``, as bytes; a handler that returns
False has declined it, and the frame goes to the library's queue as usual.

Below that, the frames themselves: once the handshake response is through (the
library is handed exactly its bytes, so it stands at a frame boundary), complete
frames are cut out of the byte stream (:class:`~gateway.ws_frames.FrameSplitter`)
while offers are on: a plain text frame goes to the handler without the library's
parser, every other frame goes to the library whole. Until the response is complete,
what arrives is held (a response is a few hundred bytes); after a close has begun,
and with an extension negotiated, the library reads everything.

Order is kept by one rule: a frame is offered only while the library's queue is
empty, and anything that goes to the queue (a declined frame, a fragment, a binary
frame) switches the offers off. The owner switches them on again only from the task
that reads the queue, between two messages, when the queue is empty
(:meth:`~AgentConnection.offer_texts`), so a message offered never overtakes one
queued before it. Control frames, closing and errors are the library's, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event, State
from websockets.typing import BytesLike

from gateway.ws_frames import FrameSplitter

TextHandler = Callable[[BytesLike], bool]

_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
_END_OF_HEAD = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024  # far more than any handshake response; past it, the library's


class AgentConnection(ClientConnection):
    """See the module docstring; passed to ``connect(create_connection=...)``."""

    on_text: TextHandler | None = None
    _head: bytes | None = b""  # the handshake response so far; None once it is through
    _splitter: FrameSplitter | None = None

    def offer_texts(self, handler: TextHandler) -> bool:
        """Offer text messages to ``handler`` from now on, if nothing is queued.

        Call it only from the task that reads the connection, between two messages.
        Returns whether the offers are on (False: messages are queued; read them first).
        """
        if len(self.recv_messages.frames):
            return False
        self.on_text = handler
        return True

    def data_received(self, data: bytes) -> None:
        splitter = self._splitter
        if splitter is None:
            if self._head is None:
                super().data_received(data)
            else:
                self._through_head(data)
            return
        if self.protocol.state is not State.OPEN:
            self._splitter = None  # at a frame boundary: the library reads from here
            super().data_received(splitter.rest(data))
            return
        for payload, frame in splitter.split(data):
            handler = self.on_text
            if payload is not None and handler is not None:
                if handler(payload):
                    continue
                self.on_text = None  # declined: queued from here, the reader takes over
            super().data_received(frame)  # a complete frame (or the rest), for the library
            if self.transport.is_closing():
                return

    def eof_received(self) -> None:
        head, self._head = self._head, None
        if head:
            super().data_received(head)
        super().eof_received()

    def _through_head(self, data: bytes) -> None:
        """Hand the library the handshake response alone, then start cutting frames."""
        head = self._head + data if self._head else data
        end = head.find(_END_OF_HEAD)
        if end < 0 and len(head) <= _MAX_HEAD:
            self._head = head
            return
        self._head = None
        if end < 0:
            super().data_received(head)
            return
        end += len(_END_OF_HEAD)
        super().data_received(head[:end])
        rest = head[end:]
        protocol = self.protocol
        if self.response is not None and protocol.state is State.OPEN and not protocol.extensions:
            limits = [n for n in (protocol.max_message_size, protocol.max_fragment_size) if n]
            self._splitter = FrameSplitter(min(limits, default=2**63), masked=False)
            if rest:
                self.data_received(rest)
        elif rest:
            super().data_received(rest)

    def process_event(self, event: Event) -> None:
        handler = self.on_text
        if handler is not None and type(event) is Frame and self.response is not None:
            if event.opcode is Opcode.TEXT and event.fin and handler(event.data):
                return
            if event.opcode in _DATA:
                self.on_text = None  # queued from here: the reader takes over
        super().process_event(event)


__all__ = ["AgentConnection", "TextHandler"]
