"""``register_promise``: the debtor commits to pay an amount on a date.

Refused, with what would be acceptable, when the date is past or beyond the
organization's limit, or the amount is above the balance or below the minimum. A new
promise replaces an active one (the debtor changed their mind); two concurrent calls
for the same account leave exactly one active promise (the account row is locked).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, Field

from agent_tools import speech
from agent_tools.registry import Tool, ToolContext, ToolResult
from backoffice.calls.models import PromiseRequest


class RegisterPromiseParams(BaseModel):
    amount: Decimal = Field(
        gt=0, max_digits=14, decimal_places=2, description="Amount promised, e.g. 120.50."
    )
    date: dt.date = Field(description="The day the debtor will pay (YYYY-MM-DD).")


async def register_promise(params: RegisterPromiseParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    result = await scope.records.register_promise(
        scope.call, PromiseRequest(params.amount, params.date), ctx.tool_call_id
    )
    return speech.from_action(result)


TOOL = Tool(
    name="register_promise",
    description=(
        "Register the debtor's promise to pay an amount on a date. Confirm amount and date "
        "with the caller first. If refused, tell the caller why and what is possible."
    ),
    params=RegisterPromiseParams,
    handler=register_promise,
    timeout_s=6.0,
    requires_identity=True,
    requires_account=True,
)
