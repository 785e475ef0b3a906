"""The gateway under test, as its own process: ``python -m bin.cli serve``.

It gets a fresh ``PARLEY_*`` environment (nothing inherited from the shell or a
``.env``: it runs in a scratch directory), listens on loopback only, and talks to the
bench's agent peer instead of ElevenLabs. :meth:`GatewayProcess.stop` always leaves it
dead and reaped; on Linux it also gets SIGTERM should the bench itself die first.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Literal

import psutil

from bin.server import free_port

ACCOUNT_SID = "AC" + "0b" * 16
AUTH_TOKEN = "bench-auth-token-0001"  # noqa: S105 - a made-up Twilio account
AGENT_ID = "agent-bench"
BENCH_ORG = "bench-org"
BENCH_KEY = "bench-operator-key-0001"
PR_SET_PDEATHSIG = 1

#: What runs in the gateway's place: parley itself, or the bare relay (a baseline).
Relay = Literal["parley", "bare"]


class GatewayError(RuntimeError):
    """The gateway did not start, or died."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class GatewayProcess:
    def __init__(
        self,
        workdir: Path,
        agent_port: int,
        *,
        prewarm: bool,
        name: str = "gateway",
        public_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        relay: Relay = "parley",
    ) -> None:
        """One ``parley serve`` (or, ``relay="bare"``, the bare relay in its place, see
        ``bench_bare_relay``); ``public_url`` is the balancer's when there are many."""
        self.workdir = workdir
        self.port = free_port()
        self.agent_port = agent_port
        self.prewarm = prewarm
        self.name = name
        self.public_url = public_url
        self.extra_env = dict(extra_env or {})
        self.relay = relay
        self.log_path = workdir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.pid = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        env.update(
            {
                "PARLEY_PUBLIC_URL": self.public_url or self.url,
                "PARLEY_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "PARLEY_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "PARLEY_ELEVENLABS_AGENT_ID": AGENT_ID,
                "PARLEY_ELEVENLABS_WS_URL": (
                    f"ws://127.0.0.1:{self.agent_port}/v1/convai/conversation"
                ),
                "PARLEY_PREWARM": "true" if self.prewarm else "false",
                "PARLEY_RECORDINGS_DIR": str(self.workdir / "recordings"),
                "PARLEY_LOG_LEVEL": "WARNING",
                # Bench calls are inbound calls of a real organization: matched against
                # its contacts, each with its call session, as in production.
                "PARLEY_INBOUND_ORG_ID": BENCH_ORG,
                "PARLEY_API_KEYS": f"{BENCH_ORG}:{BENCH_KEY}",
                "PARLEY_GATEWAY_ID": self.name,
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout_s: float = 30.0) -> None:
        module = ["bin.bench_bare_relay"] if self.relay == "bare" else ["bin.cli", "serve"]
        command = [sys.executable, "-m", *module, "--host", "127.0.0.1"]
        command += ["--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command,
                cwd=self.workdir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the bench, which stops us
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self.pid = self._proc.pid
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise GatewayError(
                    f"gateway exited with {self._proc.returncode}: {self.log_tail()}"
                )
            if self._healthy():
                return
            time.sleep(0.05)
        raise GatewayError(f"gateway not healthy within {timeout_s:.0f} s: {self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def process(self) -> psutil.Process:
        return psutil.Process(self.pid)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def send_signal(self, sig: signal.Signals) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(sig)

    def wait(self, timeout_s: float) -> int:
        """The exit status once the process has ended (raises TimeoutExpired before)."""
        assert self._proc is not None
        return self._proc.wait(timeout_s)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate (then kill) the gateway and reap it; safe to call more than once."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._proc = None
