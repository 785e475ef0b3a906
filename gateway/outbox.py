"""One peer's writes, in order, whether they go out at once or through a sender task.

Why: a call's messages for one peer come from several places (the Twilio reader in
``data_received``, the agent reader, the pacing timer, tool runs). Most batches can be
written synchronously, with no await; some have to wait (back-pressure, a socket
that is not ready, a server without the write extension). Once one batch waits, every
later batch must queue behind it, or a ``clear`` could overtake the audio queued
before it and the caller would hear stale speech after interrupting. The rule is the
same for Twilio and for the agent, so it lives here once, and the call's pump
(:mod:`gateway.call_runner`) only says how each peer writes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

WriteNow = Callable[[list[str]], bool]
"""Writes a batch without awaiting. True: all of it went. False: the rest must wait;
the function may have written a prefix first, and then deletes it from the list."""

SendOne = Callable[[str], Awaitable[None]]
"""Sends one message, awaiting the peer's back-pressure. For :meth:`Outbox.later` it
must not raise when the peer is gone (it makes ``is_open`` false instead); through
:meth:`Outbox.write` and :meth:`Outbox.send` an error reaches the awaiting code."""

Spawn = Callable[[Coroutine[Any, Any, None], str], object]


class Outbox:
    """The ordered writes to one peer (see the module docstring)."""

    __slots__ = ("_backlog", "_busy", "_is_open", "_name", "_send_one", "_spawn", "_write_now")

    def __init__(
        self,
        *,
        write_now: WriteNow | None,
        send_one: SendOne,
        is_open: Callable[[], bool],
        spawn: Spawn,
        name: str,
    ) -> None:
        self._write_now = write_now
        self._send_one = send_one
        self._is_open = is_open
        self._spawn = spawn
        self._name = name
        self._busy = False  # a sender is running: everything new goes behind it
        self._backlog: list[str] = []

    def now(self, messages: list[str]) -> bool:
        """Write ``messages`` at once when nothing is queued before them.

        False leaves what was not written in ``messages``, for :meth:`later` or
        :meth:`send`.
        """
        write_now = self._write_now
        return write_now is not None and not self._busy and self._is_open() and write_now(messages)

    async def write(self, messages: list[str]) -> None:
        """:meth:`now` if it can, else :meth:`send`: for code that may await."""
        if not self.now(messages):
            await self.send(messages)

    def later(self, messages: list[str]) -> None:
        """Queue ``messages`` behind anything waiting, from code that cannot await."""
        if self._busy:
            self._backlog.extend(messages)
        else:
            self._busy = True  # now, so that nothing written after overtakes these
            self._spawn(self._drain(messages), self._name)

    async def send(self, messages: list[str]) -> None:
        """Send ``messages`` behind anything waiting; returns once they are handed on
        (or queued behind a sender that is already running)."""
        if self._busy:
            self._backlog.extend(messages)
            return
        self._busy = True
        await self._drain(messages)

    async def _drain(self, messages: list[str]) -> None:
        """``messages``, then the backlog, in order, until the peer is gone."""
        send_one, is_open = self._send_one, self._is_open
        try:
            while True:
                for text in messages:
                    if not is_open():
                        self._backlog.clear()
                        return
                    await send_one(text)
                if not self._backlog:
                    return
                messages, self._backlog = self._backlog, []
        finally:
            self._busy = False
