"""``transfer_to_human``: a warm transfer to a person.

The tool only decides where and what the person hears first (the brief); the gateway
carries it out once the agent's last words have played: the person is called, hears
the brief, and then the caller is connected. If nobody answers, the caller is back
with the agent, which is told so.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent_tools import speech
from agent_tools.registry import Tool, ToolContext, ToolResult, TransferRequest


class TransferParams(BaseModel):
    reason: str = Field(
        min_length=3, max_length=300, description="Why the caller needs a person, briefly."
    )


def brief_for(ctx: ToolContext, reason: str) -> str:
    """What the person hears before the caller joins: who, which account, why."""
    scope = ctx.scope
    assert scope is not None
    session = scope.session
    who = "a verified debtor" if session.verified else "a caller whose identity is not verified"
    account = f" about account {session.account_ref}" if session.account_ref else ""
    return f"Transfer from the {scope.org.name} voice agent: {who}{account}. Reason: {reason}."


async def transfer_to_human(params: TransferParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    number = scope.policy.human_transfer_number
    if not number:
        return speech.refusal(
            "No colleague can take the call right now. Offer to schedule a callback instead.",
            "no_transfer_number",
        )
    result = speech.reply(
        "Tell the caller you are transferring them to a colleague now and to stay on the "
        "line; then stop speaking."
    )
    return ToolResult(result.text, transfer=TransferRequest(number, brief_for(ctx, params.reason)))


TOOL = Tool(
    name="transfer_to_human",
    description=(
        "Transfer the caller to a human colleague (they asked for a person, or you cannot "
        "help). The colleague hears a short brief first."
    ),
    params=TransferParams,
    handler=transfer_to_human,
    timeout_s=5.0,
)
