"""``parley import FILE``: a portfolio file into the store, from the command line.

It does what the API's two steps do, without asking: it shows the mapping it will
use (the proposed one, or ``--mapping``), imports with a progress bar on stderr,
and prints the report: counts, every refused row (row, field, column, reason) up to
a limit, and the warnings. ``--dry-run`` reads and checks everything and writes
nothing. Exit status: 0 when the import ran (even with refused rows), 1 when the
file or the mapping cannot be used, 2 for bad arguments or settings.

Wiring (``bin/cli.py``): ``import_cmd.add_parser(sub)``; the parser's ``func`` is
:func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from backoffice.accounts.priority import recalculate_organization
from backoffice.errors import InvalidInput, NotFound
from backoffice.orgs.service import get_organization
from backoffice.portfolio.service import FileImport, Preview, import_file, preview_file
from backoffice.store.db import Database
from backoffice.store.tables import organizations
from config.logging import configure_logging
from config.settings import SettingsError, StoreSettings, load_store_settings

SHOWN_REJECTIONS = 50


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``import`` to the ``parley`` command's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "import",
        help="import a portfolio file (CSV, XLSX or XLS)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("file", type=Path, help="the CSV, XLSX or XLS file")
    parser.add_argument("--org", help="organization id (default: the only organization)")
    parser.add_argument(
        "--mapping",
        help='JSON {field: column header or 0-based index}, e.g. \'{"contact_name": "Nombre"}\''
        " (default: the proposed mapping)",
    )
    parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    parser.set_defaults(func=run)
    return parser


class ProgressBar:
    """A one-line bar redrawn in place at most ten times a second."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.started = time.monotonic()
        self._drawn = 0.0

    def update(self, rows: int, fraction: float | None) -> None:
        now = time.monotonic()
        if now - self._drawn < 0.1:
            return
        self._drawn = now
        rate = rows / max(now - self.started, 1e-9)
        if fraction is None:
            bar = ""
        else:
            filled = int(self.width * fraction)
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%} "
        self.stream.write(f"\r{bar}{rows:,} rows  {rate:,.0f} rows/s")
        self.stream.flush()

    def finish(self, rows: int) -> None:
        self._drawn = 0.0
        self.update(rows, 1.0)
        self.stream.write("\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """Run ``parley import`` with parsed arguments; returns the exit status."""
    try:
        settings = load_store_settings()
    except SettingsError as exc:
        print(f"parley import: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)  # logs on stderr: stdout carries the report
    mapping = None
    if args.mapping is not None:
        try:
            mapping = json.loads(args.mapping)
        except json.JSONDecodeError as exc:
            print(f"parley import: --mapping is not JSON: {exc}", file=sys.stderr)
            return 2
        if not isinstance(mapping, dict):
            print("parley import: --mapping must be a JSON object", file=sys.stderr)
            return 2
    if not args.file.is_file():
        print(f"parley import: no such file: {args.file}", file=sys.stderr)
        return 2
    return asyncio.run(_import(args, settings, mapping))


async def _organization(db: Database, wanted: str | None) -> str:
    async with db.read() as conn:
        if wanted is not None:
            return (await get_organization(conn, wanted)).id
        rows = (await conn.execute(select(organizations.c.id, organizations.c.name))).all()
    if len(rows) == 1:
        return str(rows[0].id)
    names = ", ".join(f"{r.id} ({r.name})" for r in rows) or "none yet"
    raise LookupError(f"choose the organization with --org; organizations: {names}")


async def _import(args: argparse.Namespace, settings: StoreSettings, mapping: Any) -> int:
    db = await Database.open(settings.database_url)
    key = settings.secret_key.get_secret_value().encode()
    out = sys.stdout
    try:
        try:
            org_id = await _organization(db, args.org)
        except (LookupError, NotFound) as exc:
            print(f"parley import: {exc}", file=sys.stderr)
            return 2
        try:
            preview = await preview_file(
                db, org_id, args.file, document_key=key, mapping=mapping, limit=5
            )
            if not args.json:
                _show_mapping(preview, out)
            show_progress = sys.stderr.isatty() if args.progress is None else args.progress
            bar = ProgressBar(sys.stderr) if show_progress else None
            result = await import_file(
                db,
                org_id,
                args.file,
                document_key=key,
                actor="cli",
                mapping=mapping,
                dry_run=args.dry_run,
                source_name=args.file.name,
                on_progress=bar.update if bar else None,
            )
            if bar is not None:
                bar.finish(result.report.rows_read)
            if not args.dry_run and (result.report.inserted or result.report.updated):
                scored = await recalculate_organization(db, org_id)
                if not args.json:
                    out.write(f"priority scores computed for {scored:,} accounts\n")
        except InvalidInput as exc:
            print(f"parley import: {exc.message}", file=sys.stderr)
            for error in exc.errors:
                print(f"  {error.field}: {error.reason}", file=sys.stderr)
            return 1
    finally:
        await db.close()
    if args.json:
        out.write(json.dumps(report_json(result), ensure_ascii=False, indent=2) + "\n")
    else:
        _show_report(result, out)
    return 0


def _show_mapping(preview: Preview, out: TextIO) -> None:
    details = ", ".join(f"{k} {v}" for k, v in preview.details.items())
    out.write(f"{preview.format.upper()} ({details}), header on row {preview.header_row}\n")
    out.write("columns:\n")
    used = {index: field.value for field, index in preview.mapping.columns.items()}
    for column in preview.proposal.columns:
        field = used.get(column.index, "-")
        sure = f" ({column.confidence:.0%})" if column.field and field != "-" else ""
        out.write(f"  {column.index:>3}  {column.header or '(blank)':<30} -> {field}{sure}\n")
    for warning in preview.warnings:
        out.write(f"note: {warning}\n")


def report_json(result: FileImport) -> dict[str, Any]:
    report = result.report
    return {
        "format": result.format,
        "details": result.details,
        "header_row": result.header_row,
        "mapping": result.mapping.to_json(),
        "dry_run": report.dry_run,
        "rows_read": report.rows_read,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected_rows": report.rejected_rows,
        "rejected": [
            {"row": r.row, "field": r.field, "column": r.column, "reason": r.reason}
            for r in report.rejected
        ],
        "rejected_left_out": report.rejections_left_out,
        "warnings": result.warnings,
    }


def _show_report(result: FileImport, out: TextIO) -> None:
    report = result.report
    verb = "would be" if report.dry_run else "were"
    out.write(
        f"{report.rows_read:,} rows read: {report.inserted:,} {verb} inserted, "
        f"{report.updated:,} updated, {report.unchanged:,} unchanged, "
        f"{report.rejected_rows:,} refused\n"
    )
    for rejection in report.rejected[:SHOWN_REJECTIONS]:
        column = f" ({rejection.column})" if rejection.column else ""
        out.write(f"  row {rejection.row}: {rejection.field}{column}: {rejection.reason}\n")
    hidden = len(report.rejected) - SHOWN_REJECTIONS + report.rejections_left_out
    if hidden > 0:
        out.write(f"  ... and {hidden:,} more problems (use --json for the first 1,000)\n")
    for warning in result.warnings:
        out.write(f"warning: {warning}\n")
