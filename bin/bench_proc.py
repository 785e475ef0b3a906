"""Bench peers as child processes that take commands over a pipe.

Each peer is a ``spawn``-ed process running one uvloop event loop. The parent sends
picklable commands and gets one reply per command. The child exits on ``None``, when
the pipe closes (the parent died) or after its lifetime, whichever comes first; it
ignores SIGINT so that Ctrl-C is handled by the parent alone, which then stops it.
Its garbage collector only runs between commands.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

import uvloop


class PeerHandler(Protocol):
    """What a peer process runs: one answer per command, then a clean close."""

    async def __call__(self, command: Any) -> Any: ...
    async def aclose(self) -> None: ...


HandlerFactory = Callable[[], Awaitable[PeerHandler]]


class PeerError(RuntimeError):
    """A bench peer failed, died or did not answer in time."""


class Peer:
    """The parent's handle on one peer process."""

    def __init__(self, name: str, target: Callable[..., None], *args: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.name = name
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=target, args=(child, *args), name=name, daemon=True)
        self._process.start()
        child.close()

    @property
    def pid(self) -> int:
        pid = self._process.pid
        assert pid is not None
        return pid

    def send(self, command: Any) -> None:
        self._conn.send(command)

    def reply(self, timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while not self._conn.poll(0.2):
            if not self._process.is_alive():
                raise PeerError(f"{self.name} exited with code {self._process.exitcode}")
            if time.monotonic() > deadline:
                raise PeerError(f"{self.name} did not answer within {timeout_s:.0f} s")
        try:
            answer = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise PeerError(f"{self.name} closed its pipe: {exc}") from None
        if isinstance(answer, BaseException):
            raise PeerError(f"{self.name} failed: {answer!r}") from answer
        return answer

    def request(self, command: Any, timeout_s: float) -> Any:
        self.send(command)
        return self.reply(timeout_s)

    def stop(self) -> None:
        """Ask the peer to exit, then make sure it has (terminate, then kill)."""
        try:
            self._conn.send(None)
        except (OSError, ValueError):
            pass
        self._process.join(3)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(3)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(3)
        self._conn.close()
        self._process.close()


def run_child(conn: Connection, handler_factory: HandlerFactory, lifetime_s: float) -> None:
    """Child-process main: serve commands with the handler until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        uvloop.run(_serve(conn, handler_factory, lifetime_s))
    finally:
        conn.close()


async def _serve(conn: Connection, handler_factory: HandlerFactory, lifetime_s: float) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[Any] = asyncio.Queue()

    def readable() -> None:
        try:
            commands.put_nowait(conn.recv())
        except (EOFError, OSError):
            loop.remove_reader(conn.fileno())
            commands.put_nowait(None)

    # The collector runs between commands, not during a measured run: a peer's own
    # collection pause would show up as latency of the gateway.
    gc.disable()
    try:
        handler = await handler_factory()
    except Exception as exc:
        conn.send(RuntimeError(f"start-up: {type(exc).__name__}: {exc}"))
        return
    loop.add_reader(conn.fileno(), readable)
    try:
        async with asyncio.timeout(lifetime_s):
            while (command := await commands.get()) is not None:
                try:
                    answer = await handler(command)
                except Exception as exc:
                    answer = RuntimeError(f"{type(exc).__name__}: {exc}")
                # The loop made the pipe non-blocking; a reply of megabytes must not
                # fail half-written, and nothing else runs between commands anyway.
                os.set_blocking(conn.fileno(), True)
                conn.send(answer)
                del answer
                gc.collect()
    except TimeoutError:
        pass
    finally:
        loop.remove_reader(conn.fileno())
        await handler.aclose()
