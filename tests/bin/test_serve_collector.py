"""``parley serve`` starts with the collector policy that keeps full garbage
collections from pausing live calls (``gateway/gc_policy.py``)."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

import bin.server
from bin.cli import main
from gateway.gc_policy import YOUNG_BEFORE_FULL

SETTINGS = {
    "PUBLIC_URL": "https://gateway.example.com",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "f" * 32,
    "ELEVENLABS_AGENT_ID": "agent_0001",
}


def test_serve_freezes_the_start_up_heap_and_spaces_full_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for name, value in SETTINGS.items():
        monkeypatch.setenv(f"PARLEY_{name}", value)
    monkeypatch.setenv("PARLEY_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    seen: dict[str, Any] = {}

    class StartUpOnly:
        """The server ``parley serve`` runs, reduced to the app's start-up and shutdown."""

        def __init__(self, config: object, app: Starlette) -> None:
            self.app = app

        def run(self) -> None:
            async def start_and_stop() -> None:
                async with self.app.router.lifespan_context(self.app):
                    seen["frozen"] = gc.get_freeze_count()
                    seen["thresholds"] = gc.get_threshold()

            asyncio.run(start_and_stop())

    monkeypatch.setattr(bin.server, "DrainingServer", StartUpOnly)
    young, middle, full = gc.get_threshold()
    try:
        assert main(["serve", "--host", "127.0.0.1", "--port", "1"]) == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(young, middle, full)
    assert seen["frozen"] > 0  # what start-up built is out of the collector's sight
    assert seen["thresholds"] == (young, middle, YOUNG_BEFORE_FULL)
