"""Operator API: accounts, their debt items, status and priority, and contacts.

Any key reads (viewer and up); changing a status, a debt item or recomputing a
priority needs the operator role. Every handler passes the caller's ``org_id`` down,
so another organization's account, item or contact is a 404.

``/api/accounts/export.csv`` is declared before ``/api/accounts/{account_id}``:
Starlette tries routes in order, and the parameter would otherwise match
``export.csv``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import StreamingResponse

from backoffice.accounts import service
from backoffice.accounts.debt_items import DebtItemInput, DebtItemPatch
from backoffice.accounts.export import export_csv
from backoffice.accounts.models import (
    AccountDetail,
    AccountPage,
    ContactDetail,
    DebtItemChange,
    InteractionDetail,
    Priority,
    StatusChange,
)
from backoffice.accounts.query import AccountQuery
from backoffice.api.framework import Api, Call, field_errors
from backoffice.errors import InvalidInput

api = Api()
TAG = "accounts"


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=24, description="The new status, e.g. paused.")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the history).")


def _filters(call: Call) -> AccountQuery:
    """The parsed query, with ``status`` repeated (``?status=a&status=b``) also
    understood: the framework keeps only the last value of a repeated parameter."""
    query: AccountQuery = call.query
    repeated = call.request.query_params.getlist("status")
    if len(repeated) > 1:
        merged = query.model_dump() | {"status": ",".join(repeated)}
        try:
            return AccountQuery.model_validate(merged)
        except ValidationError as exc:
            raise InvalidInput(field_errors(exc), "invalid query parameters") from None
    return query


@api.route(
    "GET",
    "/api/accounts",
    role="viewer",
    summary="List accounts (filter by status, search, sort, page)",
    tag=TAG,
    query=AccountQuery,
    response=AccountPage,
)
async def list_accounts(call: Call) -> AccountPage:
    return await service.list_accounts(call.db, call.org_id, _filters(call))


@api.route(
    "GET",
    "/api/accounts/export.csv",
    role="viewer",
    summary="Export the filtered account list as CSV",
    tag=TAG,
    query=AccountQuery,
)
async def export_accounts(call: Call) -> StreamingResponse:
    return StreamingResponse(
        export_csv(call.db, call.org_id, _filters(call)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="accounts.csv"'},
    )


@api.route(
    "GET",
    "/api/accounts/{account_id}",
    role="viewer",
    summary="One account with contact, timeline, promises, debt items and history",
    tag=TAG,
    response=AccountDetail,
)
async def get_account(call: Call) -> AccountDetail:
    return await service.get_account_detail(call.db, call.org_id, call.path["account_id"])


@api.route(
    "GET",
    "/api/accounts/{account_id}/interactions/{interaction_id}",
    role="viewer",
    summary="One interaction with its transcript, analysis and timeline",
    tag=TAG,
    response=InteractionDetail,
)
async def get_interaction(call: Call) -> InteractionDetail:
    return await service.get_interaction(
        call.db, call.org_id, call.path["account_id"], call.path["interaction_id"]
    )


@api.route(
    "POST",
    "/api/accounts/{account_id}/status",
    role="operator",
    summary="Change an account's status",
    tag=TAG,
    body=StatusIn,
    response=StatusChange,
)
async def change_status(call: Call) -> StatusChange:
    body: StatusIn = call.body
    return await service.set_status(
        call.db,
        org_id=call.org_id,
        account_id=call.path["account_id"],
        to_status=body.to,
        actor=call.actor,
        reason=body.reason,
    )


@api.route(
    "POST",
    "/api/accounts/{account_id}/debt-items",
    role="operator",
    summary="Add a debt item (the pending balance is recomputed)",
    tag=TAG,
    body=DebtItemInput,
    response=DebtItemChange,
    status=201,
)
async def add_debt_item(call: Call) -> DebtItemChange:
    return await service.add_debt_item(
        call.db,
        org_id=call.org_id,
        account_id=call.path["account_id"],
        data=call.body,
        actor=call.actor,
    )


@api.route(
    "PATCH",
    "/api/accounts/{account_id}/debt-items/{item_id}",
    role="operator",
    summary="Edit a debt item (the pending balance is recomputed)",
    tag=TAG,
    body=DebtItemPatch,
    response=DebtItemChange,
)
async def update_debt_item(call: Call) -> DebtItemChange:
    return await service.update_debt_item(
        call.db,
        org_id=call.org_id,
        account_id=call.path["account_id"],
        item_id=call.path["item_id"],
        patch=call.body,
        actor=call.actor,
    )


@api.route(
    "POST",
    "/api/accounts/{account_id}/priority",
    role="operator",
    summary="Recalculate an account's priority score (returns score and factors)",
    tag=TAG,
    response=Priority,
)
async def recalculate_priority(call: Call) -> Priority:
    return await service.recalculate_priority(call.db, call.org_id, call.path["account_id"])


@api.route(
    "GET",
    "/api/contacts/{contact_id}",
    role="viewer",
    summary="One contact with phones, opt-out state and accounts (document: last 4 only)",
    tag=TAG,
    response=ContactDetail,
)
async def get_contact(call: Call) -> ContactDetail:
    return await service.get_contact(call.db, call.org_id, call.path["contact_id"])
