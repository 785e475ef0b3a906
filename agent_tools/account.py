"""``lookup_account`` and ``select_account``: the debt as the verified debtor may hear it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agent_tools import speech
from agent_tools.binding import bind_account
from agent_tools.registry import Tool, ToolContext, ToolResult


class LookupAccountParams(BaseModel):
    pass


async def lookup_account(params: LookupAccountParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    balance = await scope.records.balance(scope.call)
    language = scope.language
    facts: dict[str, Any] = {
        "pending_balance": speech.money(balance.pending_balance, balance.currency, language),
        "pending_balance_amount": str(balance.pending_balance),
        "currency": balance.currency,
        "status": balance.status,
        "breakdown": {
            kind: speech.money(amount, balance.currency, language) for kind, amount in balance.items
        },
    }
    if balance.due_date is not None:
        facts["due_date"] = speech.day(balance.due_date, language)
        facts["due_date_iso"] = balance.due_date.isoformat()
    message = f"The pending balance is {facts['pending_balance']}."
    if balance.active_promise is not None:
        promise = balance.active_promise
        facts["active_promise"] = {
            "amount": speech.money(promise.amount, promise.currency, language),
            "due_date": speech.day(promise.due_date, language),
        }
        message += " There is already an active promise to pay; a new one would replace it."
    return speech.reply(message, **facts)


class SelectAccountParams(BaseModel):
    reference: str = Field(
        min_length=1, max_length=128, description="The reference of the account the caller means."
    )


async def select_account(params: SelectAccountParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    wanted = params.reference.strip().lower()
    for candidate in scope.session.candidates or []:
        names = {str(candidate.get("reference") or "").lower(), candidate["account_ref"].lower()}
        if wanted in names:
            await bind_account(scope, candidate["account_ref"], candidate.get("contact_id"))
            return speech.reply("Account selected. Call lookup_account for its balance.")
    choices = [c.get("reference") or c["account_ref"] for c in scope.session.candidates or []]
    return speech.refusal(
        "No account of this caller has that reference. Ask again.",
        "unknown_reference",
        accounts=choices,
    )


LOOKUP_ACCOUNT = Tool(
    name="lookup_account",
    description=(
        "Read the account's pending balance, due date, breakdown and any active promise. "
        "Only after the caller's identity is verified."
    ),
    params=LookupAccountParams,
    handler=lookup_account,
    timeout_s=5.0,
    requires_identity=True,
    requires_account=True,
    # A read: nothing to do twice, so no claim to write (and no write lock to wait for).
    exactly_once=False,
)

SELECT_ACCOUNT = Tool(
    name="select_account",
    description=(
        "When a verified caller has several accounts, choose the one they are calling "
        "about by its reference."
    ),
    params=SelectAccountParams,
    handler=select_account,
    timeout_s=5.0,
    requires_identity=True,
)
