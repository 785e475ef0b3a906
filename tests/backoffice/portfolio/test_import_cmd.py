"""``parley import FILE`` on both databases: mapping shown, progress, report, exit status."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import pytest

from backoffice.orgs.models import Organization
from backoffice.store.db import Database
from bin import import_cmd
from tests.backoffice.portfolio.helpers import BRAZIL, FIXTURES, accounts_of, make_org
from tests.backoffice.portfolio.test_import_files import ROWS, latin1_csv


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="parley")
    import_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["import", *argv])


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, db: Database) -> None:
    # Only the store: importing needs no Twilio or ElevenLabs credentials.
    for name in ("PUBLIC_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "ELEVENLABS_AGENT_ID"):
        monkeypatch.delenv(f"PARLEY_{name}", raising=False)
    monkeypatch.setenv("PARLEY_DATABASE_URL", db.url)


async def run(*argv: str) -> int:
    """The command in a thread of its own, as it runs its own event loop."""
    args = parse(*argv)
    status: int = await asyncio.to_thread(args.func, args)
    return status


@pytest.mark.usefixtures("environment")
async def test_import_shows_the_mapping_and_the_report(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org: Organization = await make_org(db)
    path = latin1_csv(tmp_path, ROWS)
    assert await run(str(path), "--progress") == 0
    out, err = capsys.readouterr()
    assert "CSV (encoding cp1252, delimiter ;), header on row 1" in out
    assert "Código cliente                 -> external_id (100%)" in out
    assert "10 rows read: 5 were inserted, 0 updated, 0 unchanged, 5 refused" in out
    assert "row 5: phone (Teléfono): not a valid ES phone number: '12345'" in out
    assert "warning:" in out and "day-first" in out
    assert "100%" in err and "10 rows" in err  # the progress bar
    assert len(await accounts_of(db, org.id)) == 5

    assert await run(str(path), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["inserted"], report["unchanged"], report["rejected_rows"]) == (1, 4, 5)


@pytest.mark.usefixtures("environment")
async def test_dry_run_and_explicit_mapping(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    org = await make_org(db, BRAZIL)
    mapping = json.dumps({"contact_name": "Nome completo", "total_amount": 6, "external_id": "ID"})
    path = str(FIXTURES / "carteira_br.xls")
    assert await run(path, "--org", org.id, "--mapping", mapping, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "7 rows read: 6 would be inserted" in out
    assert await accounts_of(db, org.id) == {}


@pytest.mark.usefixtures("environment")
async def test_problems_are_explained_with_an_exit_status(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(latin1_csv(tmp_path, ROWS))
    assert await run(path) == 2  # no organization yet
    assert "choose the organization with --org; organizations: none yet" in capsys.readouterr().err
    await make_org(db)
    brazil = await make_org(db, BRAZIL)
    assert await run(path) == 2
    assert brazil.id in capsys.readouterr().err  # names the candidates
    assert await run(path, "--org", brazil.id, "--mapping", "{oops") == 2
    assert "--mapping is not JSON" in capsys.readouterr().err
    assert await run(path, "--org", brazil.id, "--mapping", '{"contact_name": "Nombre"}') == 1
    assert "mapping.total_amount: required" in capsys.readouterr().err
    assert await run(str(tmp_path / "missing.csv"), "--org", brazil.id) == 2
    not_a_table = tmp_path / "x.pdf"
    not_a_table.write_bytes(b"%PDF-1.4")
    assert await run(str(not_a_table), "--org", brazil.id) == 1
    assert "file: not a CSV, XLSX or XLS file" in capsys.readouterr().err
