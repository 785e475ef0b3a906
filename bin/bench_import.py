"""``parley bench import``: how fast portfolios import, and how much memory it takes.

On generated files shaped like a Spanish client's export (semicolon-separated, comma
decimals, day-first dates, phones, documents, about 2 % bad rows):

1. rows per second importing a 100,000-row CSV into a fresh SQLite database;
2. the same into a fresh PostgreSQL database, on a throwaway server started the way
   the test suite starts one (``initdb``/``pg_ctl`` from the system's packages);
3. peak memory importing 1,000,000 rows, next to the peak for 100,000 rows: if
   memory is flat in the row count, the two are close.

Each import runs in a process of its own (``python -m bin.bench_import --probe``),
so that one measurement's memory cannot hide in another's; its peak is the resident
set of the importing process and, separately, of its reader process. PASS/FAIL is
printed against the targets (100,000 rows under 10 s on SQLite; memory flat); the
exit status is 0 either way unless the benchmark itself could not run.

Wiring (``bin/cli.py``): :func:`add_arguments` on the ``bench import`` parser, then
:func:`run_bench_import` with the parsed arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SPEED_ROWS = 100_000
MEMORY_ROWS = 1_000_000
TARGET_SECONDS = 10.0
FLAT_MARGIN_MB = 50.0  # peak(1M) may exceed peak(100k) by this much and still be "flat"
HEADER = (
    "Código cliente;Nombre y apellidos;DNI;Teléfono;Email;Importe;Saldo pendiente;"
    "Fecha de vencimiento;Referencia;Observaciones"
)
_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_NAMES = ("Begoña", "José", "Lucía", "Íñigo", "Marta", "Raúl", "Ana", "Pedro", "Carmen", "Sofía")
_SURNAMES = ("Núñez", "Peña", "García", "Fernández", "Martín", "Sáez", "Gil", "Ruiz", "Díaz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=SPEED_ROWS, help="rows for the speed runs")
    parser.add_argument(
        "--memory-rows", type=int, default=MEMORY_ROWS, help="rows for the memory run"
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL run")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def _format(value: float) -> str:
    """``value`` as a Spanish spreadsheet writes it: 1.234,56."""
    whole, cents = f"{value:.2f}".split(".")
    return f"{int(whole):,}".replace(",", ".") + "," + cents


def _amount(rng: random.Random) -> tuple[str, float]:
    value = rng.randint(1_000, 2_500_000) / 100
    return _format(value), value


def generate_csv(path: Path, rows: int, *, seed: int = 1) -> None:
    """Write a portfolio CSV of ``rows`` data rows, streaming (cp1252, ``;``, CRLF)."""
    rng = random.Random(seed)
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write(HEADER + "\r\n")
        for i in range(rows):
            number = rng.randint(10_000_000, 99_999_999)
            document = f"{number}{_LETTERS[number % 23]}"
            phone = f"6{rng.randint(10_000_000, 99_999_999)}"
            total, value = _amount(rng)
            paid = rng.random()
            pending = total if paid < 0.7 else _format(value * (paid - 0.7) / 0.3)
            due = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2026, 2028)}"
            bad = rng.random()
            if bad < 0.01:
                phone = "12345"
            elif bad < 0.02:
                total = f"-{total}"
            name = f"{rng.choice(_NAMES)} {rng.choice(_SURNAMES)} {rng.choice(_SURNAMES)}"
            note = "Llamar por la tarde" if value > 20_000 else ""
            out.write(
                f"C-{i:07d};{name};{document};{phone};cliente{i}@example.es;{total};{pending};"
                f"{due};FAC-{i:07d};{note}\r\n"
            )


async def _probe(url: str, path: Path) -> dict[str, Any]:
    from backoffice.orgs.models import OrganizationInput
    from backoffice.orgs.service import create_organization
    from backoffice.portfolio.service import import_file
    from backoffice.store.db import Database
    from config.settings import Settings

    db = await Database.open(url)
    try:
        org = await create_organization(
            db,
            OrganizationInput(name="Bench", country="ES", locale="es-ES", timezone="Europe/Madrid"),
        )
        key = Settings.model_fields["secret_key"].default.get_secret_value().encode()
        started = time.perf_counter()
        result = await import_file(db, org.id, path, document_key=key, actor="bench")
        seconds = time.perf_counter() - started
    finally:
        await db.close()
    report = result.report
    return {
        "rows": report.rows_read,
        "inserted": report.inserted,
        "refused": report.rejected_rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(report.rows_read / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "reader_peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }


def probe_in_subprocess(url: str, path: Path, timeout: float = 3600) -> dict[str, Any]:
    """Import ``path`` into a new organization at ``url`` in a fresh process; its figures."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bin.bench_import", "--probe", url, str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"import probe failed:\n{done.stderr[-4000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr, flush=True)


def _measure(args: argparse.Namespace, work: Path, quiet: bool) -> dict[str, Any]:
    rows = int(getattr(args, "rows", SPEED_ROWS))
    memory_rows = int(getattr(args, "memory_rows", MEMORY_ROWS))
    figures: dict[str, Any] = {"rows": rows}
    speed_file = work / "speed.csv"
    _say(quiet, f"generating {rows:,} rows ...")
    generate_csv(speed_file, rows)
    _say(quiet, "importing into SQLite ...")
    figures["sqlite"] = probe_in_subprocess(f"sqlite+aiosqlite:///{work / 'bench.db'}", speed_file)
    if getattr(args, "no_postgres", False):
        figures["postgresql"] = {"skipped": "--no-postgres"}
    else:
        figures["postgresql"] = _postgres(speed_file, quiet)
    if getattr(args, "no_memory", False):
        return figures
    memory_file = work / "memory.csv"
    _say(quiet, f"generating {memory_rows:,} rows ...")
    generate_csv(memory_file, memory_rows, seed=2)
    _say(quiet, f"importing {memory_rows:,} rows into SQLite (peak memory) ...")
    big = probe_in_subprocess(f"sqlite+aiosqlite:///{work / 'memory.db'}", memory_file)
    figures["memory"] = {"small": figures["sqlite"], "large": big, "large_rows": memory_rows}
    return figures


def _postgres(path: Path, quiet: bool) -> dict[str, Any]:
    try:
        from bin.local_postgres import PostgresServer
    except ImportError as exc:
        return {"skipped": f"cannot start PostgreSQL: {exc}"}
    server = PostgresServer()
    try:
        server.start()
    except (OSError, subprocess.SubprocessError) as exc:
        return {"skipped": f"cannot start PostgreSQL: {exc}"}
    try:
        _say(quiet, "importing into PostgreSQL ...")
        return probe_in_subprocess(server.create_database(), path)
    finally:
        server.stop()


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render(figures: dict[str, Any]) -> str:
    lines = [f"parley bench import: {figures['rows']:,}-row CSV"]
    for name in ("sqlite", "postgresql"):
        f = figures[name]
        if "skipped" in f:
            lines.append(f"  {name:<11} skipped: {f['skipped']}")
            continue
        lines.append(
            f"  {name:<11} {f['rows_per_second']:>8,} rows/s  ({f['seconds']} s, "
            f"{f['inserted']:,} inserted, {f['refused']:,} refused)"
        )
    sqlite = figures["sqlite"]
    lines.append(
        f"  {_verdict(sqlite['seconds'] < TARGET_SECONDS)}  {figures['rows']:,} rows under "
        f"{TARGET_SECONDS:.0f} s on SQLite ({sqlite['seconds']} s)"
    )
    memory = figures.get("memory")
    if memory:
        small, large = memory["small"], memory["large"]
        lines.append(
            f"  peak memory  {figures['rows']:,} rows: {small['peak_rss_mb']} MB "
            f"(+ reader {small['reader_peak_rss_mb']} MB)   {memory['large_rows']:,} rows: "
            f"{large['peak_rss_mb']} MB (+ reader {large['reader_peak_rss_mb']} MB), "
            f"{large['rows_per_second']:,} rows/s"
        )
        flat = (
            large["peak_rss_mb"] <= small["peak_rss_mb"] + FLAT_MARGIN_MB
            and large["reader_peak_rss_mb"] <= small["reader_peak_rss_mb"] + FLAT_MARGIN_MB
        )
        lines.append(f"  {_verdict(flat)}  memory flat in the row count")
    return "\n".join(lines)


def run_bench_import(args: argparse.Namespace) -> int:
    """Run the import benchmark; prints the figures (JSON with ``--json``)."""
    as_json = bool(getattr(args, "json", False))
    with tempfile.TemporaryDirectory(prefix="parley-bench-import-") as tmp:
        try:
            figures = _measure(args, Path(tmp), quiet=False)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            print(f"parley bench import: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(figures, indent=2) if as_json else render(figures))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--probe":
        print(json.dumps(asyncio.run(_probe(argv[1], Path(argv[2])))))
        return 0
    parser = argparse.ArgumentParser(prog="parley bench import", description=__doc__)
    add_arguments(parser)
    return run_bench_import(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
