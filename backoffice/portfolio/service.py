"""Portfolio use cases: preview a file, import a file, sync accounts from JSON.

Each takes its dependencies as arguments (the database, the organization id, the
document key) and owns its transactions: one per batch of :data:`BATCH_SIZE` rows,
so a failure late in a big file keeps every batch before it, and memory holds a
batch or two whatever the file's size. Rows are read and checked off the event loop
(see :mod:`backoffice.portfolio.reading`); only the writes run on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backoffice import audit
from backoffice.errors import FieldError, InvalidInput
from backoffice.orgs.service import get_organization
from backoffice.portfolio.fields import ImportField, parse_field
from backoffice.portfolio.mapping import (
    ColumnMapping,
    ColumnRef,
    Proposal,
    confirm_mapping,
    propose_mapping,
)
from backoffice.portfolio.normalize import Cell
from backoffice.portfolio.reading import (
    Batches,
    BatchReader,
    TableReader,
    ThreadReader,
    open_table_reader,
)
from backoffice.portfolio.records import (
    AccountRecord,
    ImportContext,
    Note,
    NoteKind,
    RowOutcome,
    build_record,
)
from backoffice.portfolio.report import ImportReport, ReadingStyle
from backoffice.portfolio.rows import UnreadableFile
from backoffice.portfolio.writer import BatchResult, WriteTarget, write_batch
from backoffice.store.db import Database
from backoffice.store.tables import accounts, utcnow

BATCH_SIZE = 2000  # rows per transaction: measured faster than 1000, memory still small
PREVIEW_ROWS = 20
MAX_SYNC_ITEMS = 10_000

Progress = Callable[[int, float | None], None]  # (rows read, fraction of the file or None)


Action = Literal["insert", "update", "reject"]


@dataclass(frozen=True, slots=True)
class PreviewRow:
    row: int
    action: Action
    values: dict[str, Any] | None
    errors: list[FieldError]
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class Preview:
    format: str
    details: dict[str, str]
    header_row: int
    proposal: Proposal
    mapping: ColumnMapping  # the one the rows were read with
    rows: list[PreviewRow]
    warnings: list[str]


@dataclass
class FileImport:
    format: str
    details: dict[str, str]
    header_row: int
    mapping: ColumnMapping
    report: ImportReport
    warnings: list[str] = field(default_factory=list)


def _unreadable(exc: UnreadableFile) -> InvalidInput:
    return InvalidInput([FieldError("file", exc.reason)], "the file cannot be imported")


async def _context(db: Database, org_id: str, document_key: bytes) -> ImportContext:
    async with db.read() as conn:
        org = await get_organization(conn, org_id)
    return ImportContext.for_organization(org, document_key)


def _style(ctx: ImportContext) -> ReadingStyle:
    return ReadingStyle(ctx.locale, ctx.day_first)


async def _open(path: Path, in_process: bool | None) -> TableReader:
    try:
        return await open_table_reader(path, in_process=in_process)
    except UnreadableFile as exc:
        raise _unreadable(exc) from None


def _choose_mapping(
    headers: list[str], requested: Mapping[str, ColumnRef | None] | None
) -> tuple[Proposal, ColumnMapping]:
    proposal = propose_mapping(headers)
    if requested is not None:
        return proposal, confirm_mapping(headers, requested)
    if proposal.missing:
        raise InvalidInput(
            [
                FieldError(f"mapping.{f.value}", "no column looks like it; choose one")
                for f in proposal.missing
            ],
            "the file's columns could not all be recognised",
        )
    return proposal, proposal.mapping


_NOTE_LABELS = {
    NoteKind.DATE_AMBIGUOUS: "ambiguous date, read as the locale writes dates",
    NoteKind.DATE_AGAINST_LOCALE: "date only readable against the locale's order",
    NoteKind.DATE_SERIAL: "spreadsheet day number read as a date",
    NoteKind.PENDING_OVER_TOTAL: "pending balance exceeds the total amount",
    NoteKind.EXTRA_PHONE_DROPPED: "an additional phone number was not valid",
    NoteKind.DUPLICATE_EXTERNAL_ID: "external_id repeated",
}


def _note_text(note: Note) -> str:
    return f"{note.field.value}: {_NOTE_LABELS[note.kind]} ({note.text})"


async def preview_file(
    db: Database,
    org_id: str,
    path: Path,
    *,
    document_key: bytes,
    mapping: Mapping[str, ColumnRef | None] | None = None,
    limit: int = PREVIEW_ROWS,
    in_process: bool | None = None,
) -> Preview:
    """The detected columns, a proposed mapping, and the first rows as they would import.

    With ``mapping``, the rows are read with it instead of the proposal (to check a
    mapping before importing). Nothing is written. ``in_process`` as for
    :func:`import_file`.

    Raises:
        NotFound: no such organization.
        InvalidInput: ``file`` is not a table; ``mapping.<field>`` problems.
    """
    ctx = await _context(db, org_id, document_key)
    reader = await _open(path, in_process)
    try:
        proposal = propose_mapping(reader.headers)
        chosen = confirm_mapping(reader.headers, mapping) if mapping else proposal.mapping
        await reader.start(chosen.columns, ctx, limit)
        outcomes = await reader.next()
        stopped = reader.stopped
    finally:
        await reader.aclose()
    existing = await _known_external_ids(
        db, org_id, [o.record.external_id for o in outcomes if o.record and o.record.external_id]
    )
    report = ImportReport()
    rows = []
    for outcome in outcomes:
        report.count(outcome)
        record = outcome.record
        action: Action = "reject"
        if record is not None:
            action = "update" if record.external_id in existing else "insert"
        rows.append(
            PreviewRow(
                outcome.position,
                action,
                record.shown(ctx.currency) if record else None,
                list(outcome.errors),
                [_note_text(n) for n in outcome.notes],
            )
        )
    warnings = list(proposal.notes)
    if not mapping:
        warnings += [f"no column found for required field {f.value}" for f in proposal.missing]
    if stopped is not None:
        warnings.append(f"reading stopped: {stopped.reason}")
    return Preview(
        reader.format,
        reader.details,
        reader.header_row,
        proposal,
        chosen,
        rows,
        warnings + report.warnings(_style(ctx)),
    )


async def _known_external_ids(db: Database, org_id: str, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    async with db.read() as conn:
        rows = await conn.execute(
            select(accounts.c.external_id).where(
                accounts.c.org_id == org_id, accounts.c.external_id.in_(ids)
            )
        )
        return {r.external_id for r in rows}


async def _run(
    db: Database,
    reader: BatchReader,
    target: WriteTarget,
    report: ImportReport,
    *,
    dry_run: bool,
    columns: dict[ImportField, str] | None = None,
    on_progress: Progress | None = None,
) -> None:
    """Read, account for and write every batch; a row's problems never stop the rest."""
    while batch := await reader.next():
        pending: list[AccountRecord] = []
        in_batch: set[str] = set()
        for outcome in batch:
            report.count(outcome, columns)
            record = outcome.record
            if record is None:
                continue
            if record.external_id is not None:
                if record.external_id in in_batch:  # a batch holds each external_id once
                    await _write(db, pending, target, report, dry_run)
                    pending, in_batch = [], set()
                in_batch.add(record.external_id)
            pending.append(record)
        await _write(db, pending, target, report, dry_run)
        if on_progress is not None:
            on_progress(report.rows_read, reader.progress())
    if reader.stopped is not None:
        stop = reader.stopped
        report.refuse(stop.row or report.rows_read + 1, [FieldError("file", stop.reason)])
        report.notes.append(f"reading stopped: {stop.reason}; the rows before it were imported")


async def _write(
    db: Database,
    records: list[AccountRecord],
    target: WriteTarget,
    report: ImportReport,
    dry_run: bool,
) -> None:
    if not records:
        return
    try:
        result = await _write_once(db, records, target, dry_run)
    except IntegrityError:
        # Another writer inserted one of these external_ids meanwhile: a second
        # attempt sees it and updates. If that fails too, isolate the rows.
        try:
            result = await _write_once(db, records, target, dry_run)
        except IntegrityError:
            result = await _write_one_by_one(db, records, target, report, dry_run)
    report.inserted += result.inserted
    report.updated += result.updated
    report.unchanged += result.unchanged
    for record in result.repeated:
        report.tally.add(
            record.position,
            Note(NoteKind.DUPLICATE_EXTERNAL_ID, ImportField.EXTERNAL_ID, record.external_id or ""),
        )


async def _write_one_by_one(
    db: Database,
    records: list[AccountRecord],
    target: WriteTarget,
    report: ImportReport,
    dry_run: bool,
) -> BatchResult:
    total = BatchResult()
    for record in records:
        try:
            one = await _write_once(db, [record], target, dry_run)
        except IntegrityError:
            report.refuse(
                record.position,
                [FieldError("external_id", "could not be stored: changed concurrently")],
            )
            continue
        total.inserted += one.inserted
        total.updated += one.updated
        total.unchanged += one.unchanged
        total.repeated += one.repeated
    return total


async def _write_once(
    db: Database, records: list[AccountRecord], target: WriteTarget, dry_run: bool
) -> BatchResult:
    async with db.transaction() as conn:
        return await write_batch(conn, records, target, now=utcnow(), dry_run=dry_run)


async def import_file(
    db: Database,
    org_id: str,
    path: Path,
    *,
    document_key: bytes,
    actor: str,
    mapping: Mapping[str, ColumnRef | None] | None = None,
    dry_run: bool = False,
    source_name: str | None = None,
    batch_size: int = BATCH_SIZE,
    on_progress: Progress | None = None,
    in_process: bool | None = None,
) -> FileImport:
    """Import every row of the file at ``path`` into ``org_id``'s portfolio.

    Args:
        mapping: the confirmed ``{field: header or column index}``; None takes the
            proposed mapping (refused if it lacks a required field).
        dry_run: read and check everything, count what would change, write nothing.
        source_name: the file's name as the user knows it, for history and audit.
        on_progress: called after each batch with rows read and fraction of the file.
        in_process: read the file in this process (True), in a reader process
            (False), or decide by its size (None); see
            :mod:`~backoffice.portfolio.reading`.

    Returns:
        The report: inserted, updated, unchanged, refused rows (row, field, reason,
        column), warnings. Rows are refused individually; the import goes on.

    Raises:
        NotFound: no such organization.
        InvalidInput: ``file`` is not a table at all; ``mapping.<field>`` problems.
    """
    ctx = await _context(db, org_id, document_key)
    reader = await _open(path, in_process)
    try:
        proposal, chosen = _choose_mapping(reader.headers, mapping)
        await reader.start(chosen.columns, ctx, batch_size)
        report = ImportReport(dry_run=dry_run)
        if mapping is None:
            report.notes.extend(proposal.notes)
        name = _display_name(source_name or path.name)
        target = WriteTarget(org_id, ctx.currency, f"imported from {name}", utcnow())
        columns = {f: reader.headers[i] for f, i in chosen.columns.items()}
        await _run(
            db, reader, target, report, dry_run=dry_run, columns=columns, on_progress=on_progress
        )
    finally:
        await reader.aclose()
    if not dry_run:
        await _audit(db, org_id, actor, "portfolio.import", report, {"source": name})
    return FileImport(
        reader.format,
        reader.details,
        reader.header_row,
        chosen,
        report,
        report.warnings(_style(ctx)),
    )


def _display_name(name: str) -> str:
    """A file name fit for history and audit: no directories, at most 120 characters."""
    return name.replace("\\", "/").rsplit("/", 1)[-1][-120:] or "upload"


async def _audit(
    db: Database,
    org_id: str,
    actor: str,
    action: str,
    report: ImportReport,
    extra: dict[str, Any],
) -> None:
    async with db.transaction() as conn:
        await audit.record(
            conn,
            org_id=org_id,
            actor=actor,
            action=action,
            entity_type="portfolio",
            entity_id=None,
            detail={
                **extra,
                "rows_read": report.rows_read,
                "inserted": report.inserted,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected_rows": report.rejected_rows,
            },
        )


def _sync_outcome(index: int, item: Mapping[str, Cell], ctx: ImportContext) -> RowOutcome:
    values: dict[ImportField, Cell] = {}
    errors = []
    for key, value in item.items():
        fld = parse_field(key)
        if fld is None:
            errors.append(FieldError(key, "not a field"))
        else:
            values[fld] = value
    outcome = build_record(index, values, ctx)
    if outcome.record is not None and outcome.record.external_id is None:
        errors.append(
            FieldError(
                ImportField.EXTERNAL_ID.value,
                "required for a sync, so that sending it again updates instead of duplicating",
            )
        )
    if errors:
        return RowOutcome(index, None, tuple(errors) + outcome.errors, outcome.notes)
    return outcome


async def sync_accounts(
    db: Database,
    org_id: str,
    items: Sequence[Mapping[str, Cell]],
    *,
    document_key: bytes,
    actor: str,
    dry_run: bool = False,
) -> tuple[ImportReport, list[str]]:
    """Insert or update accounts by external_id; sending the same list twice changes nothing.

    Each item has the fields of a file row (``contact_name``, ``total_amount``, ...);
    ``external_id`` is required. A refused item is reported by its 0-based index.

    Returns:
        The report and its warnings (worded with "item" for "row").

    Raises:
        NotFound: no such organization.
        InvalidInput: more than :data:`MAX_SYNC_ITEMS` items.
    """
    if len(items) > MAX_SYNC_ITEMS:
        raise InvalidInput(
            [FieldError("body", f"at most {MAX_SYNC_ITEMS} accounts per request")],
            "too many accounts",
        )
    ctx = await _context(db, org_id, document_key)
    report = ImportReport(dry_run=dry_run)
    target = WriteTarget(org_id, ctx.currency, "API sync", utcnow())
    outcomes = (_sync_outcome(i, item, ctx) for i, item in enumerate(items))
    reader = ThreadReader(Batches(outcomes, BATCH_SIZE))
    await _run(db, reader, target, report, dry_run=dry_run)
    if not dry_run:
        await _audit(db, org_id, actor, "portfolio.sync", report, {"items": len(items)})
    return report, report.warnings(_style(ctx), where="item")
