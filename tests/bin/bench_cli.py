"""Running ``parley bench ... --json`` through the CLI in a test, for its report."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

from bin.cli import main


def bench_report_json(*args: str) -> dict[str, Any]:
    """``parley bench <args> --json``: its parsed report (the run must succeed)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["bench", *args, "--json"])
    assert status == 0
    parsed: dict[str, Any] = json.loads(out.getvalue())
    return parsed
