"""Operator API: portfolio imports (preview, import) and the JSON account sync.

A file travels in one of two ways, and the endpoints accept both:

- as the raw request body, with its media type (``text/csv``, the XLSX type
  ``application/vnd.openxmlformats-officedocument.spreadsheetml.sheet``, the XLS type
  ``application/vnd.ms-excel``, or ``application/octet-stream``); options go in the
  query string, the mapping as JSON: ``?mapping={"contact_name":"Nombre",...}``;
- as ``multipart/form-data`` with a ``file`` part and, optionally, a ``mapping`` part
  holding the same JSON (handy from an HTML form or ``curl -F``).

The format is told from the file's bytes, not from the media type or the name.
Uploads are spooled to a temporary file as they arrive (never held in memory) and
removed when the request ends. The two-step flow: ``POST /api/imports/preview``
returns the columns, a proposed mapping and the first rows as they would be
imported; the client shows them, lets a person correct the mapping, and sends the
file again with it to ``POST /api/imports``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, WithJsonSchema
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from backoffice.accounts.priority import recalculate_organization
from backoffice.api.framework import Api, Call, render
from backoffice.errors import BackofficeError, FieldError, InvalidInput, MalformedBody
from backoffice.portfolio import service
from backoffice.portfolio.mapping import ColumnRef
from backoffice.portfolio.report import ImportReport
from backoffice.vault import server_secret

api = Api()

MAX_UPLOAD_BYTES = 512 * 1024 * 1024
CHUNK_BYTES = 1 << 16
FILE_MEDIA_TYPE = "text/csv"  # documented one; the XLSX/XLS types and multipart work too


class PayloadTooLarge(BackofficeError):
    status = 413


# --- input --------------------------------------------------------------------------

MAPPING_HELP = (
    "The confirmed mapping as a JSON object, {field: column header or 0-based column index}, "
    'e.g. {"contact_name": "Nombre", "total_amount": "Importe", "phone": 3}. Take it from '
    "the preview's `mapping` and correct it. Fields: contact_name and total_amount "
    "(required), pending_balance, due_date, currency, reference, external_id, email, "
    "phone, whatsapp, document, language, timezone, notes. May also be sent as the "
    "multipart field `mapping`."
)


class PreviewQuery(BaseModel):
    rows: int = Field(default=service.PREVIEW_ROWS, ge=1, le=200, description="Rows to show.")
    mapping: str | None = Field(
        default=None, description="Optional: preview with this mapping. " + MAPPING_HELP
    )
    filename: str | None = Field(default=None, max_length=255, description="For display.")


class ImportQuery(BaseModel):
    mapping: str | None = Field(default=None, description="Required. " + MAPPING_HELP)
    dry_run: bool = Field(default=False, description="Check and count; write nothing.")
    filename: str | None = Field(
        default=None, max_length=255, description="The file's name, kept in the history."
    )


class SyncQuery(BaseModel):
    dry_run: bool = Field(default=False, description="Check and count; write nothing.")


def _scalar(value: Any) -> Any:
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        return value
    raise ValueError("must be a string, a number or null")


# A cell's worth of JSON: its content is read (and refused per item) like a file's cell.
Value = Annotated[
    Any,
    AfterValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "null"]}),
]


class AccountIn(BaseModel):
    """One account to insert or update; values are read as a file's cells would be."""

    model_config = ConfigDict(extra="forbid")

    external_id: Value = Field(
        default=None, description="Required: the account's id in your system (upsert key)."
    )
    contact_name: Value = Field(default=None, description="Required.")
    total_amount: Value = Field(
        default=None, description='Required, > 0: 1234.56 or "1.234,56" or "1,234.56".'
    )
    pending_balance: Value = Field(default=None, description="Defaults to the total on insert.")
    currency: Value = Field(default=None, description="ISO 4217; default: the organization's.")
    due_date: Value = Field(default=None, description='"2026-12-31" or as the locale writes it.')
    reference: Value = None
    notes: Value = None
    email: Value = None
    phone: Value = Field(default=None, description="Any form; stored in E.164.")
    whatsapp: Value = None
    document: Value = Field(default=None, description="Stored as last 4 and a keyed digest.")
    language: Value = Field(default=None, description="es, en, pt or a locale such as es-MX.")
    timezone: Value = Field(default=None, description="IANA, e.g. America/Mexico_City.")


class SyncIn(RootModel[Annotated[list[AccountIn], Field(max_length=service.MAX_SYNC_ITEMS)]]):
    """A JSON list of accounts (at most 10,000 per request)."""


# --- output -------------------------------------------------------------------------


class ColumnOut(BaseModel):
    index: int
    header: str
    field: str | None = Field(description="The field this column looks like, if any.")
    confidence: float = Field(description="0 to 1: 1 is a known header, below 0.6 a near miss.")


class FieldProblem(BaseModel):
    field: str
    reason: str


class PreviewRowOut(BaseModel):
    row: int = Field(description="Row number in the file, as a spreadsheet shows it.")
    action: Literal["insert", "update", "reject"]
    values: dict[str, Any] | None = Field(description="Normalised values (document: last 4).")
    errors: list[FieldProblem]
    warnings: list[str]


class PreviewOut(BaseModel):
    format: str
    details: dict[str, str] = Field(description="Encoding and delimiter, or sheet name.")
    header_row: int
    columns: list[ColumnOut]
    mapping: dict[str, ColumnRef] = Field(description="The mapping the rows were read with.")
    proposed_mapping: dict[str, ColumnRef]
    missing_required: list[str]
    rows: list[PreviewRowOut]
    warnings: list[str]


class RejectionOut(BaseModel):
    row: int
    field: str
    column: str | None
    reason: str


class ImportReportOut(BaseModel):
    format: str
    details: dict[str, str]
    header_row: int
    mapping: dict[str, ColumnRef]
    dry_run: bool
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    rejected_rows: int = Field(description="Rows refused (all of them, even past the list).")
    rejected: list[RejectionOut] = Field(description="One entry per problem, first 1,000.")
    rejected_left_out: int = Field(description="Problems beyond the list's cap.")
    warnings: list[str]


class SyncRejectionOut(BaseModel):
    index: int = Field(description="0-based position of the item in the list sent.")
    field: str
    reason: str


class SyncReportOut(BaseModel):
    dry_run: bool
    received: int
    inserted: int
    updated: int
    unchanged: int
    rejected_items: int
    rejected: list[SyncRejectionOut]
    rejected_left_out: int
    warnings: list[str]


# --- receiving a file ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    path: Path
    filename: str | None
    mapping: str | None  # the multipart ``mapping`` part, if sent


def document_key(request: Request) -> bytes:
    """The key for document digests (the server secret; see :mod:`backoffice.vault`)."""
    return server_secret(request)


async def _copy(chunks: AsyncIterator[bytes], out: Any) -> int:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(f"file: larger than {MAX_UPLOAD_BYTES // (1 << 20)} MB")
        out.write(chunk)
    return size


async def _upload_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK_BYTES):
        yield chunk


@asynccontextmanager
async def received_file(request: Request) -> AsyncIterator[Upload]:
    """The uploaded file, spooled to a temporary file that is removed afterwards.

    Raises:
        PayloadTooLarge: over :data:`MAX_UPLOAD_BYTES`.
        MalformedBody: a JSON body, or a multipart body without a ``file`` part.
        InvalidInput: an empty file.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES + CHUNK_BYTES:
        raise PayloadTooLarge(f"file: larger than {MAX_UPLOAD_BYTES // (1 << 20)} MB")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json":
        raise MalformedBody(
            [FieldError("file", "send the file itself (CSV, XLSX or XLS), or multipart 'file'")],
            "expected a file",
        )
    handle, name = tempfile.mkstemp(prefix="parley-import-")
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            if media_type == "multipart/form-data":
                filename, mapping, size = await _from_form(request, out)
            else:
                filename, mapping = None, None
                size = await _copy(request.stream(), out)
        if size == 0:
            raise InvalidInput([FieldError("file", "the file is empty")], "invalid file")
        yield Upload(path, filename, mapping)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


async def _from_form(request: Request, out: Any) -> tuple[str | None, str | None, int]:
    async with request.form(max_files=1, max_fields=4) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise MalformedBody([FieldError("file", "missing multipart part 'file'")], "no file")
        mapping = form.get("mapping")
        size = await _copy(_upload_chunks(upload), out)
        return upload.filename, mapping if isinstance(mapping, str) else None, size


def parse_mapping(text: str | None) -> dict[str, ColumnRef | None] | None:
    """The ``mapping`` JSON object, checked for shape (its content is checked later).

    Raises:
        InvalidInput: naming ``mapping`` when it is not an object of strings/indexes.
    """
    if text is None or not text.strip():
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not all(
        (isinstance(v, str | int) and not isinstance(v, bool)) or v is None for v in data.values()
    ):
        raise InvalidInput(
            [FieldError("mapping", 'must be a JSON object such as {"contact_name": "Nombre"}')],
            "invalid mapping",
        )
    return data


# --- endpoints ----------------------------------------------------------------------


@api.route(
    "POST",
    "/api/imports/preview",
    role="operator",
    summary="Detect a file's columns, propose a mapping and preview the first rows",
    tag="imports",
    query=PreviewQuery,
    response=PreviewOut,
    raw_body=FILE_MEDIA_TYPE,
)
async def preview_import(call: Call) -> PreviewOut:
    async with received_file(call.request) as upload:
        mapping = parse_mapping(upload.mapping or call.query.mapping)
        preview = await service.preview_file(
            call.db,
            call.org_id,
            upload.path,
            document_key=document_key(call.request),
            mapping=mapping,
            limit=call.query.rows,
        )
    return PreviewOut(
        format=preview.format,
        details=preview.details,
        header_row=preview.header_row,
        columns=[
            ColumnOut(
                index=c.index,
                header=c.header,
                field=c.field.value if c.field else None,
                confidence=c.confidence,
            )
            for c in preview.proposal.columns
        ],
        mapping=preview.mapping.to_json(),
        proposed_mapping=preview.proposal.mapping.to_json(),
        missing_required=[f.value for f in preview.proposal.missing],
        rows=[
            PreviewRowOut(
                row=r.row,
                action=r.action,
                values=r.values,
                errors=[FieldProblem(field=e.field, reason=e.reason) for e in r.errors],
                warnings=r.warnings,
            )
            for r in preview.rows
        ],
        warnings=preview.warnings,
    )


@api.route(
    "POST",
    "/api/imports",
    role="operator",
    summary="Import a file with a confirmed mapping (upsert by external_id)",
    tag="imports",
    query=ImportQuery,
    response=ImportReportOut,
    raw_body=FILE_MEDIA_TYPE,
)
async def import_accounts(call: Call) -> Response:
    async with received_file(call.request) as upload:
        mapping = parse_mapping(upload.mapping or call.query.mapping)
        if mapping is None:
            raise InvalidInput(
                [FieldError("mapping", "required: confirm the mapping from the preview")],
                "invalid mapping",
            )
        result = await service.import_file(
            call.db,
            call.org_id,
            upload.path,
            document_key=document_key(call.request),
            actor=call.actor,
            mapping=mapping,
            dry_run=call.query.dry_run,
            source_name=call.query.filename or upload.filename or "upload",
        )
    report = result.report
    out = ImportReportOut(
        format=result.format,
        details=result.details,
        header_row=result.header_row,
        mapping=result.mapping.to_json(),
        **_counts(report),
        rejected=[
            RejectionOut(row=r.row, field=r.field, column=r.column, reason=r.reason)
            for r in report.rejected
        ],
        warnings=result.warnings,
    )
    return _then_rescore(call, out, report)


def _then_rescore(call: Call, out: BaseModel, report: ImportReport) -> Response:
    """Answer now; score the organization's accounts once the answer is sent, so
    the call list is ordered by priority without holding the import's response."""
    response = render(out, 200)
    if not report.dry_run and (report.inserted or report.updated):
        response.background = BackgroundTask(recalculate_organization, call.db, call.org_id)
    return response


def _counts(report: ImportReport) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "rows_read": report.rows_read,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected_rows": report.rejected_rows,
        "rejected_left_out": report.rejections_left_out,
    }


@api.route(
    "POST",
    "/api/accounts/sync",
    role="operator",
    summary="Insert or update accounts by external_id from a JSON list (idempotent)",
    tag="imports",
    query=SyncQuery,
    body=SyncIn,
    response=SyncReportOut,
)
async def sync_accounts(call: Call) -> Response:
    items = [item.model_dump(exclude_unset=True) for item in call.body.root]
    report, warnings = await service.sync_accounts(
        call.db,
        call.org_id,
        items,
        document_key=document_key(call.request),
        actor=call.actor,
        dry_run=call.query.dry_run,
    )
    counts = _counts(report)
    out = SyncReportOut(
        dry_run=report.dry_run,
        received=len(items),
        inserted=report.inserted,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected_items=report.rejected_rows,
        rejected=[
            SyncRejectionOut(index=r.row, field=r.field, reason=r.reason) for r in report.rejected
        ],
        rejected_left_out=counts["rejected_left_out"],
        warnings=warnings,
    )
    return _then_rescore(call, out, report)
