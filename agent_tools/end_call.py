"""``end_call``: the agent says goodbye and the call ends once those words have played.

The hang-up itself is the bridge's job (it waits for Twilio's mark echoes); the tool
only records the reason and asks for it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent_tools.registry import Tool, ToolContext, ToolResult


class EndCallParams(BaseModel):
    reason: str = Field(default="", max_length=200, description="Why the call is ending.")


async def end_call(params: EndCallParams, ctx: ToolContext) -> ToolResult:
    return ToolResult("The call will end after your last words.", end_call=True)


TOOL = Tool(
    name="end_call",
    description=(
        "End the phone call. Say your goodbye first; the line is hung up once your last "
        "words have played."
    ),
    params=EndCallParams,
    handler=end_call,
    timeout_s=2.0,
    exactly_once=False,
    standalone=True,
)
