"""A throwaway ``redis-server`` from the system's packages (tests and benchmarks).

No persistence, loopback only, on a free port (or a given one, so a test can stop it
and bring it back where the gateways expect it). Stopped by its pid.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bin.server import free_port


class RedisServer:
    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="parley-redis-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the server and wait until it accepts connections.

        Raises:
            FileNotFoundError: ``redis-server`` is not installed.
            RuntimeError: it exited or did not listen within ``timeout_s``.
        """
        program = shutil.which("redis-server")
        if program is None:
            raise FileNotFoundError("redis-server is not installed (Debian package redis-server)")
        argv = [
            program,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.root),
            "--logfile", str(self.root / "log"),
        ]  # fmt: skip
        self._proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + timeout_s
        while not self._answers():
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._proc.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not start listening")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def kill(self) -> None:
        """Stop it abruptly (as a crash would), keeping the port for :meth:`start`."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)
