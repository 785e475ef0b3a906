"""The agent socket's client connection, with complete text messages read at once.

Why: ``websockets``' asyncio connection hands every message to a reader task through
its ``Assembler`` (a queue, a future, a wake-up of the task and a dozen coroutine
frames per message). The agent sends a chunk of speech ten times a second per call,
and the gateway's answer to it (frames for Twilio, a ``clear`` on an interruption, a
``pong``) needs no await. :class:`AgentConnection` lets its owner set
:attr:`~AgentConnection.on_text`: while it is set, each complete, unfragmented text
frame is offered to it right in ``data_received``, as bytes; a handler that returns
False has declined it, and the frame goes to the library's queue as usual.

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
from websockets.protocol import Event
from websockets.typing import BytesLike

TextHandler = Callable[[BytesLike], bool]

_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


class AgentConnection(ClientConnection):
    """See the module docstring; passed to ``connect(create_connection=...)``."""

    on_text: TextHandler | None = None

    def offer_texts(self, handler: TextHandler) -> bool:
        """Offer text messages to ``handler`` from now on, if nothing is queued.

        Call it only from the task that reads the connection, between two messages.
        Returns whether the offers are on (False: messages are queued; read them first).
        """
        if len(self.recv_messages.frames):
            return False
        self.on_text = handler
        return True

    def process_event(self, event: Event) -> None:
        handler = self.on_text
        if handler is not None and type(event) is Frame and self.response is not None:
            if event.opcode is Opcode.TEXT and event.fin and handler(event.data):
                return
            if event.opcode in _DATA:
                self.on_text = None  # queued from here: the reader takes over
        super().process_event(event)


__all__ = ["AgentConnection", "TextHandler"]
