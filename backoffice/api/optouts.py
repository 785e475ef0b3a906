"""Operator API: opt-outs and do-not-contact lists (exactly the routes of issue 3:
``POST /api/admin/opt-out/bulk``, ``GET /api/admin/opt-out``,
``DELETE /api/admin/opt-out/{contact_id}``, plus individual opt-outs and DNC uploads)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.requests import Request

from backoffice.api.framework import Api, Call
from backoffice.compliance import dnc, dnc_list, optout
from backoffice.compliance.phones import InvalidPhone, to_e164
from backoffice.errors import FieldError, InvalidInput
from backoffice.orgs.service import get_organization

api = Api()
TAG = "opt-outs"
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
