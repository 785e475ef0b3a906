"""``opt_out``: the person asks not to be contacted again; effective at once, audited.

A verified debtor is opted out of every channel. Before identity is verified the
person may not be the debtor, so the dialled number is put on the do-not-contact list
instead: the request is honoured without acting on someone else's behalf.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent_tools import speech
from agent_tools.registry import Tool, ToolContext, ToolResult
from backoffice.calls.models import OptOutScope


class OptOutParams(BaseModel):
    reason: str = Field(
        default="asked not to be contacted during the call",
        min_length=3,
        max_length=500,
        description="What the caller said.",
    )


async def opt_out(params: OptOutParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    scope_kind = OptOutScope.CONTACT if scope.session.verified else OptOutScope.NUMBER
    result = await scope.records.opt_out(scope.call, params.reason, scope_kind, ctx.tool_call_id)
    return speech.from_action(result)


TOOL = Tool(
    name="opt_out",
    description=(
        "The caller asks not to be called or contacted again. Honour it at once, confirm, "
        "and end the call politely."
    ),
    params=OptOutParams,
    handler=opt_out,
    timeout_s=6.0,
)
