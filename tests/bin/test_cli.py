"""The ``parley`` command's own sub-commands."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bin.cli import build_parser, main


def test_every_command_is_there() -> None:
    help_text = build_parser().format_help()
    for command in ("serve", "demo", "bench", "migrate", "import", "agent"):
        assert command in help_text
    args = build_parser().parse_args(["bench", "import", "--rows", "10", "--no-postgres"])
    assert args.bench_what == "import"
    assert args.rows == 10


def test_migrate_creates_the_schema_and_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "store.db"
    monkeypatch.setenv("PARLEY_DATABASE_URL", f"sqlite:///{database}")
    for name in ("PUBLIC_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "ELEVENLABS_AGENT_ID"):
        monkeypatch.delenv(f"PARLEY_{name}", raising=False)  # not needed to migrate
    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    with sqlite3.connect(database) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert {"organizations", "accounts", "audit_log", "dnc_numbers"} <= tables


def test_serve_names_the_missing_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    for name in ("PUBLIC_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "ELEVENLABS_AGENT_ID"):
        monkeypatch.delenv(f"PARLEY_{name}", raising=False)
    monkeypatch.setenv("PARLEY_TWILIO_ACCOUNT_SID", "not-a-sid")
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "PARLEY_PUBLIC_URL: is required but not set" in err
    assert "PARLEY_TWILIO_ACCOUNT_SID" in err
    assert "PARLEY_ELEVENLABS_AGENT_ID" in err
