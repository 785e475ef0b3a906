"""``register_dispute``, ``register_hardship`` and ``escalate``: the call needs a person.

A dispute or hardship puts the account in review (collection stops until a person has
looked); an escalation hands the account to a person. Escalating needs no verified
identity (an angry or confused caller must be able to reach a person); the other two
act for the debtor, so they do.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent_tools import speech
from agent_tools.registry import Tool, ToolContext, ToolResult


class ReasonParams(BaseModel):
    reason: str = Field(
        min_length=3, max_length=500, description="In a sentence, what the caller said and why."
    )


async def register_dispute(params: ReasonParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    result = await scope.records.register_dispute(scope.call, params.reason, ctx.tool_call_id)
    return speech.from_action(result)


async def register_hardship(params: ReasonParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    result = await scope.records.register_hardship(scope.call, params.reason, ctx.tool_call_id)
    return speech.from_action(result)


async def escalate(params: ReasonParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    result = await scope.records.escalate(scope.call, params.reason, ctx.tool_call_id)
    return speech.from_action(result)


DISPUTE = Tool(
    name="register_dispute",
    description=(
        "The debtor disputes the debt (not theirs, wrong amount, already paid). Record the "
        "reason; collection stops until it is reviewed."
    ),
    params=ReasonParams,
    handler=register_dispute,
    timeout_s=6.0,
    requires_identity=True,
    requires_account=True,
)

HARDSHIP = Tool(
    name="register_hardship",
    description=(
        "The debtor cannot pay because of hardship (job loss, illness...). Record it with "
        "empathy; a colleague will review options."
    ),
    params=ReasonParams,
    handler=register_hardship,
    timeout_s=6.0,
    requires_identity=True,
    requires_account=True,
)

ESCALATE = Tool(
    name="escalate",
    description="Hand the account to a person for follow-up (complaint, legal threat, confusion).",
    params=ReasonParams,
    handler=escalate,
    timeout_s=6.0,
    requires_account=True,
)
