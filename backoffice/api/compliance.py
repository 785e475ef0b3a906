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
from starlette.responses import StreamingResponse

from backoffice.api.framework import Api, Call
from backoffice.compliance import audit_log, report
from backoffice.compliance.check import CHANNELS, Decision, Reason, may_contact
from backoffice.errors import NotFound
from backoffice.orgs.service import get_organization
from backoffice.store.db import Database
from backoffice.store.tables import utcnow

api = Api()
TAG = "compliance"
MAX_BULK = 10_000
DNC_REASON = "on a do-not-contact list"


# --- models -------------------------------------------------------------------------


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
