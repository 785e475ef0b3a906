"""``make demo`` is the product's main job: it must complete a call and print it."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from tests.system_tools import require_tool


@pytest.mark.timeout(180)
def test_demo_completes_a_call_and_prints_its_transcript(tmp_path: Path) -> None:
    require_tool("espeak-ng")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    done = subprocess.run(
        [sys.executable, "-m", "bin.cli", "demo"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "AGENT        Hello, this is Parley Finance. Am I speaking with Ann?" in out
    assert "CALLER       Yes, speaking." in out
    assert "barge-in" in out
    assert "tool call    verify_identity" in out
    assert "tool call    register_promise" in out
    assert '"ok":true' in out.split("tool call    register_promise", 1)[1]
    assert "tool call    end_call" in out
    assert "account ACC-1001: promise_active; promises: 120.50 USD on" in out
    assert "ended        completed (agent_ended)" in out
    assert "SMS reminder sent: Parley Finance: Ann, a reminder that your account" in out
    assert "SMS reminder status: delivered" in out
    recording = Path(out.rsplit("recording: ", 1)[1].split(" (", 1)[0])
    assert recording.parent == tmp_path / "recordings"
    with wave.open(str(recording)) as wav:
        assert wav.getnchannels() == 2
        assert wav.getframerate() == 8000
        assert wav.getnframes() > 8000 * 10
