"""Operator API: opt-outs, DNC lists, the contact check, the compliance report, audit.

Roles, chosen so that the safe direction is the easy one:

- ``viewer`` reads: the opt-out list, the contact check, the compliance report and
  its CSV (a compliance officer or auditor needs no power to change anything).
- ``operator`` stops contact: individual and bulk opt-outs, DNC list uploads; and
  reads the audit log, which holds phone numbers and the names of keys.
- ``admin`` alone restores contact (``DELETE /api/admin/opt-out/{contact_id}``): it
  reaches again a person who asked not to be reached, so it needs the highest role
  and is audited with its reason.

Every route works inside the caller's organization: another organization's contact
or account answers 404, its numbers are "not found", its interactions and audit
entries are absent.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, field_validator
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import StreamingResponse

from backoffice.api.framework import Api, Call
from backoffice.compliance import audit_log, dnc, dnc_list, optout, report
from backoffice.compliance.check import CHANNELS, Decision, Reason, may_contact
from backoffice.compliance.phones import InvalidPhone, to_e164
from backoffice.errors import FieldError, InvalidInput, NotFound
from backoffice.orgs.service import get_organization
from backoffice.store.db import Database
from backoffice.store.tables import utcnow

api = Api()
TAG = "compliance"
MAX_BULK = 10_000
DNC_REASON = "on a do-not-contact list"


# --- models -------------------------------------------------------------------------


class OptOutIn(BaseModel):
    reason: str = Field(min_length=1, max_length=optout.MAX_REASON)


class BulkOptOutIn(BaseModel):
    phones: list[str] = Field(min_length=1, max_length=MAX_BULK)
    reason: str = Field(min_length=1, max_length=optout.MAX_REASON)


class OptOutOut(BaseModel):
    contact_id: str
    name: str
    phone: str | None
    whatsapp: str | None
    opted_out: bool
    reason: str | None
    opted_out_at: dt.datetime | None
    opted_out_by: str | None


class OptOutPage(BaseModel):
    items: list[OptOutOut]
    total: int
    page: int
    page_size: int


class PageQuery(BaseModel):
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=25, ge=1, le=200)


class UndoQuery(BaseModel):
    reason: str | None = Field(default=None, max_length=optout.MAX_REASON)


class DncQuery(BaseModel):
    reason: str = Field(default=DNC_REASON, min_length=1, max_length=optout.MAX_REASON)


class PhoneEntryOut(BaseModel):
    value: str
    line: int | None = None
    e164: str | None = None
    contact_ids: list[str] = Field(default_factory=list)
    reason: str | None = None


class PhoneReportOut(BaseModel):
    matched: list[PhoneEntryOut]
    not_found: list[PhoneEntryOut]
    invalid: list[PhoneEntryOut]
    counts: dict[str, int]
    contacts_opted_out: int = Field(description="Contacts newly opted out by this request.")
    numbers_listed: int = Field(
        default=0,
        description="Numbers newly added to the do-not-contact list (a contact imported "
        "later with one of them is refused on phone channels).",
    )


class DncNumberOut(BaseModel):
    number: str
    reason: str
    source: str
    actor: str
    created_at: dt.datetime


class DncPage(BaseModel):
    numbers: list[DncNumberOut]
    page: int
    page_size: int
    total: int


class RemoveQuery(BaseModel):
    reason: str = Field(min_length=1, max_length=optout.MAX_REASON)


class CheckQuery(BaseModel):
    contact_id: str = Field(min_length=1, max_length=64)
    account_id: str | None = Field(default=None, max_length=64)
    channel: str = Field(description=f"One of {', '.join(CHANNELS)}.")
    at: AwareDatetime | None = Field(default=None, description="Default: now.")

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"must be one of {', '.join(CHANNELS)}")
        return value


class DecisionOut(BaseModel):
    allowed: bool
    reason: str
    message: str
    channel: str
    at: dt.datetime
    local_time: dt.datetime | None
    timezone: str | None
    timezone_source: str | None
    next_allowed_at: dt.datetime | None
    allowed_until: dt.datetime | None
    account_status: str | None


class ReportQuery(BaseModel):
    from_: dt.date = Field(alias="from", description="First day (organization's zone).")
    to: dt.date = Field(description="Last day, included.")
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=100, ge=1, le=1000)


class ReportRowOut(BaseModel):
    interaction_id: str
    at: dt.datetime
    local_time: dt.datetime
    timezone: str
    channel: str
    direction: str
    status: str
    contact_id: str | None
    contact_name: str | None
    account_id: str | None
    within_allowed_hours: bool
    basis: str
    after_opt_out: bool


class ReportSummaryOut(BaseModel):
    total: int
    within_allowed_hours: int
    outside_allowed_hours: int
    outbound_outside_allowed_hours: int
    outbound_after_opt_out: int
    computed: int
    by_channel: dict[str, int]


class ReportOut(BaseModel):
    start: dt.datetime
    end: dt.datetime
    timezone: str
    summary: ReportSummaryOut
    rows: list[ReportRowOut]
    page: int
    page_size: int


class AuditQuery(BaseModel):
    entity_type: str | None = Field(default=None, max_length=32)
    entity_id: str | None = Field(default=None, max_length=64)
    action: str | None = Field(default=None, max_length=64)
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=50, ge=1, le=200)


class AuditEntryOut(BaseModel):
    id: str
    at: dt.datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    reason: str | None
    detail: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    total: int
    page: int
    page_size: int


def _opt_out_out(item: optout.OptOut) -> OptOutOut:
    return OptOutOut(
        contact_id=item.contact_id,
        name=item.name,
        phone=item.phone,
        whatsapp=item.whatsapp,
        opted_out=item.opted_out,
        reason=item.reason,
        opted_out_at=item.opted_out_at,
        opted_out_by=item.opted_out_by,
    )


def _report_out(found: optout.PhoneReport) -> PhoneReportOut:
    def entries(items: list[optout.PhoneEntry]) -> list[PhoneEntryOut]:
        return [
            PhoneEntryOut(
                value=e.value,
                line=e.line,
                e164=e.e164,
                contact_ids=list(e.contact_ids),
                reason=e.reason,
            )
            for e in items
        ]

    return PhoneReportOut(
        matched=entries(found.matched),
        not_found=entries(found.not_found),
        invalid=entries(found.invalid),
        counts={
            "matched": len(found.matched),
            "not_found": len(found.not_found),
            "invalid": len(found.invalid),
        },
        contacts_opted_out=found.contacts_opted_out,
        numbers_listed=found.numbers_listed,
    )


# --- opt-outs -------------------------------------------------------------------------


@api.route(
    "POST",
    "/api/contacts/{contact_id}/opt-out",
    role="operator",
    summary="Opt a contact out of every channel",
    tag=TAG,
    body=OptOutIn,
    response=OptOutOut,
)
async def opt_out_contact(call: Call) -> OptOutOut:
    async with call.db.transaction() as conn:
        done = await optout.opt_out_contact(
            conn,
            org_id=call.org_id,
            contact_id=call.path["contact_id"],
            reason=call.body.reason,
            actor=call.actor,
            source="individual",
        )
    return _opt_out_out(done)


@api.route(
    "POST",
    "/api/admin/opt-out/bulk",
    role="operator",
    summary="Opt out every contact reachable at any of these numbers",
    tag=TAG,
    body=BulkOptOutIn,
    response=PhoneReportOut,
)
async def bulk_opt_out(call: Call) -> PhoneReportOut:
    async with call.db.transaction() as conn:
        org = await get_organization(conn, call.org_id)
        found = await optout.opt_out_phones(
            conn,
            org_id=org.id,
            region=org.country,
            phones=call.body.phones,
            reason=call.body.reason,
            actor=call.actor,
            source="bulk",
        )
    return _report_out(found)


@api.route(
    "GET",
    "/api/admin/opt-out",
    role="viewer",
    summary="The organization's opted-out contacts",
    tag=TAG,
    query=PageQuery,
    response=OptOutPage,
)
async def list_opt_outs(call: Call) -> OptOutPage:
    async with call.db.read() as conn:
        items, total = await optout.list_opt_outs(
            conn, org_id=call.org_id, page=call.query.page, page_size=call.query.page_size
        )
    return OptOutPage(
        items=[_opt_out_out(i) for i in items],
        total=total,
        page=call.query.page,
        page_size=call.query.page_size,
    )


@api.route(
    "DELETE",
    "/api/admin/opt-out/{contact_id}",
    role="admin",
    summary="Undo an opt-out: the contact may be reached again",
    tag=TAG,
    query=UndoQuery,
)
async def undo_opt_out(call: Call) -> dict[str, str]:
    contact_id = call.path["contact_id"]
    async with call.db.transaction() as conn:
        await optout.undo_opt_out(
            conn,
            org_id=call.org_id,
            contact_id=contact_id,
            actor=call.actor,
            reason=call.query.reason,
            source="individual",
        )
    return {"status": "contact allowed", "contact_id": contact_id}


@api.route(
    "POST",
    "/api/admin/dnc",
    role="operator",
    summary="Upload a do-not-contact list (CSV or text, one or more numbers per line)",
    tag=TAG,
    query=DncQuery,
    response=PhoneReportOut,
    raw_body="text/csv",
)
async def upload_dnc(call: Call) -> PhoneReportOut:
    async with call.db.transaction() as conn:
        org = await get_organization(conn, call.org_id)
        found = await dnc.import_dnc(
            conn,
            org_id=org.id,
            region=org.country,
            lines=dnc.text_lines(_upload(call.request)),
            reason=call.query.reason,
            actor=call.actor,
        )
    return _report_out(found)


async def _upload(request: Request) -> AsyncIterator[bytes]:
    """The bytes of the list: a raw body, or the first file of a multipart form."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form() as form:
            for value in form.values():
                if isinstance(value, UploadFile):
                    while chunk := await value.read(64 * 1024):
                        yield chunk
                    return
        return
    async for chunk in request.stream():
        yield chunk


@api.route(
    "GET",
    "/api/admin/dnc",
    role="operator",
    summary="The do-not-contact numbers (listed whether or not a contact has them)",
    tag=TAG,
    query=PageQuery,
    response=DncPage,
)
async def list_dnc(call: Call) -> DncPage:
    async with call.db.read() as conn:
        items, total = await dnc_list.list_page(
            conn, org_id=call.org_id, page=call.query.page, page_size=call.query.page_size
        )
    return DncPage(
        numbers=[DncNumberOut.model_validate(vars_of(n)) for n in items],
        page=call.query.page,
        page_size=call.query.page_size,
        total=total,
    )


@api.route(
    "DELETE",
    "/api/admin/dnc/{number}",
    role="admin",
    summary="Take a number off the do-not-contact list (audited)",
    tag=TAG,
    query=RemoveQuery,
)
async def remove_dnc(call: Call) -> dict[str, str]:
    async with call.db.transaction() as conn:
        org = await get_organization(conn, call.org_id)
        try:
            number = to_e164(call.path["number"], org.country)
        except InvalidPhone as exc:
            raise InvalidInput([FieldError("number", exc.reason)]) from None
        await dnc_list.forget(
            conn, org_id=org.id, number=number, actor=call.actor, reason=call.query.reason
        )
    return {"status": "removed", "number": number}


def vars_of(item: dnc_list.DncNumber) -> dict[str, object]:
    return {
        "number": item.number,
        "reason": item.reason,
        "source": item.source,
        "actor": item.actor,
        "created_at": item.created_at,
    }


# --- the check ------------------------------------------------------------------------


@api.route(
    "GET",
    "/api/compliance/check",
    role="viewer",
    summary="May this contact be reached on this channel now (or at `at`)?",
    tag=TAG,
    query=CheckQuery,
    response=DecisionOut,
)
async def check(call: Call) -> DecisionOut:
    q: CheckQuery = call.query
    async with call.db.read() as conn:
        decision = await may_contact(
            conn,
            org_id=call.org_id,
            contact_id=q.contact_id,
            account_id=q.account_id,
            channel=q.channel,
            at=q.at or utcnow(),
        )
    if decision.reason is Reason.NO_SUCH_CONTACT:
        raise NotFound("contact")
    if decision.reason is Reason.NO_SUCH_ACCOUNT:
        raise NotFound("account")
    return _decision_out(decision)


def _decision_out(d: Decision) -> DecisionOut:
    return DecisionOut(
        allowed=d.allowed,
        reason=d.reason.value,
        message=d.message,
        channel=d.channel,
        at=d.at,
        local_time=d.local_time,
        timezone=d.timezone,
        timezone_source=d.timezone_source,
        next_allowed_at=d.next_allowed_at,
        allowed_until=d.allowed_until,
        account_status=d.account_status,
    )


# --- the report -----------------------------------------------------------------------


@api.route(
    "GET",
    "/api/compliance/report",
    role="viewer",
    summary="Interactions of a period, each inside or outside the allowed hours",
    tag=TAG,
    query=ReportQuery,
    response=ReportOut,
)
async def compliance_report(call: Call) -> ReportOut:
    q: ReportQuery = call.query
    first, last = (q.page - 1) * q.page_size, q.page * q.page_size
    summary = report.ReportSummary()
    rows: list[ReportRowOut] = []
    async with call.db.read() as conn:
        org = await get_organization(conn, call.org_id)
        start, end = report.period(org, q.from_, q.to)
        async for row in report.report_rows(conn, org, start, end):
            if first <= summary.total < last:
                rows.append(ReportRowOut.model_validate(row, from_attributes=True))
            summary.add(row)
    return ReportOut(
        start=start,
        end=end,
        timezone=org.timezone,
        summary=ReportSummaryOut.model_validate(summary, from_attributes=True),
        rows=rows,
        page=q.page,
        page_size=q.page_size,
    )


CSV_COLUMNS = (
    "interaction_id",
    "at_utc",
    "local_time",
    "timezone",
    "channel",
    "direction",
    "status",
    "contact_id",
    "contact_name",
    "account_id",
    "within_allowed_hours",
    "basis",
    "after_opt_out",
)


@api.route(
    "GET",
    "/api/compliance/report.csv",
    role="viewer",
    summary="The compliance report as CSV (streamed)",
    tag=TAG,
    query=ReportQuery,
)
async def compliance_report_csv(call: Call) -> StreamingResponse:
    q: ReportQuery = call.query
    async with call.db.read() as conn:
        org = await get_organization(conn, call.org_id)
    start, end = report.period(org, q.from_, q.to)  # a bad period fails before streaming
    filename = f"compliance-{q.from_.isoformat()}-{q.to.isoformat()}.csv"
    return StreamingResponse(
        _csv(call.db, org.id, start, end),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _csv(
    db: Database, org_id: str, start: dt.datetime, end: dt.datetime
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async with db.read() as conn:
        org = await get_organization(conn, org_id)
        async for row in report.report_rows(conn, org, start, end):
            writer.writerow(
                (
                    row.interaction_id,
                    row.at.isoformat(),
                    row.local_time.isoformat(),
                    row.timezone,
                    row.channel,
                    row.direction,
                    row.status,
                    row.contact_id or "",
                    _cell(row.contact_name),
                    row.account_id or "",
                    "yes" if row.within_allowed_hours else "no",
                    row.basis,
                    "yes" if row.after_opt_out else "no",
                )
            )
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _cell(text: str | None) -> str:
    """A spreadsheet must not run a name as a formula (CSV injection, OWASP)."""
    if not text:
        return ""
    return "'" + text if text[0] in "=+-@\t\r" else text


# --- audit ----------------------------------------------------------------------------


@api.route(
    "GET",
    "/api/audit",
    role="operator",
    summary="The organization's audit log, newest first",
    tag="audit",
    query=AuditQuery,
    response=AuditPage,
)
async def read_audit(call: Call) -> AuditPage:
    q: AuditQuery = call.query
    async with call.db.read() as conn:
        items, total = await audit_log.list_entries(
            conn,
            org_id=call.org_id,
            entity_type=q.entity_type,
            entity_id=q.entity_id,
            action=q.action,
            page=q.page,
            page_size=q.page_size,
        )
    return AuditPage(
        items=[AuditEntryOut.model_validate(i, from_attributes=True) for i in items],
        total=total,
        page=q.page,
        page_size=q.page_size,
    )
