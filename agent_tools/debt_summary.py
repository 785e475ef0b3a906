"""``send_debt_summary``: the balance breakdown by WhatsApp or email, while on the call.

The message is the account's debt items in the call's language; sending goes through
the same compliance check, WhatsApp window and verified email domain as any message
(:func:`backoffice.messaging.debt_summary.send_debt_summary`). The tool-call id is the
idempotency key, so a repeated tool call sends one message. The agent is told what
was sent, or why it could not be, in words it can say.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agent_tools import speech
from agent_tools.registry import Tool, ToolContext, ToolResult
from backoffice.messaging.debt_summary import send_debt_summary as send
from backoffice.messaging.models import Outcome


class DebtSummaryParams(BaseModel):
    channel: Literal["whatsapp", "email"] = Field(
        description="Where the debtor wants the summary: whatsapp or email."
    )


async def send_debt_summary(params: DebtSummaryParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    if scope.records.kind != "builtin" or scope.messaging is None:
        return speech.refusal(
            "A summary cannot be sent from here for this account. Tell the caller a "
            "colleague will send it.",
            "not_available",
        )
    result = await send(
        scope.db,
        scope.messaging,
        org_id=scope.org.id,
        account_id=scope.session.account_ref or "",
        channel=params.channel,
        idempotency_key=f"tool:{scope.session.call_sid}:{ctx.tool_call_id}",
        actor=scope.call.actor,
        at=scope.clock(),
        language=scope.session.language,
    )
    if result.outcome in (Outcome.SENT, Outcome.DUPLICATE):
        return speech.reply(result.message, channel=result.channel, to=result.to)
    return speech.refusal(result.message, result.reason)


TOOL = Tool(
    name="send_debt_summary",
    description=(
        "Send the verified debtor a summary of the debt (balance and breakdown) by "
        "WhatsApp or email, during the call. Ask which they prefer first."
    ),
    params=DebtSummaryParams,
    handler=send_debt_summary,
    timeout_s=8.0,
    requires_identity=True,
    requires_account=True,
    calls_out=True,
)
