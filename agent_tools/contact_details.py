"""``capture_alternate_number`` and ``set_channel_preference``: how to reach the debtor."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agent_tools import speech
from agent_tools.registry import Tool, ToolContext, ToolResult


class AlternateNumberParams(BaseModel):
    number: str = Field(
        min_length=5,
        max_length=32,
        description="The number as the caller said it, with country code when given.",
    )
    relation: Literal["debtor", "third_party"] = Field(
        default="third_party",
        description="debtor: the debtor's own new number; third_party: given by someone else.",
    )


async def capture_alternate_number(params: AlternateNumberParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    result = await scope.records.add_alternate_number(
        scope.call, params.number, params.relation, ctx.tool_call_id
    )
    return speech.from_action(result)


class ChannelPreferenceParams(BaseModel):
    channel: Literal["call", "sms", "whatsapp", "email"] = Field(
        description="How the debtor prefers to be contacted."
    )


async def set_channel_preference(params: ChannelPreferenceParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    result = await scope.records.set_channel_preference(
        scope.call, params.channel, ctx.tool_call_id
    )
    return speech.from_action(result)


ALTERNATE_NUMBER = Tool(
    name="capture_alternate_number",
    description=(
        "Save a phone number where the debtor can be reached (given by the debtor or by "
        "someone else). Reveal nothing about the debt to a third party."
    ),
    params=AlternateNumberParams,
    handler=capture_alternate_number,
    timeout_s=5.0,
    requires_account=True,
)

CHANNEL_PREFERENCE = Tool(
    name="set_channel_preference",
    description="Record how the verified debtor prefers to be contacted from now on.",
    params=ChannelPreferenceParams,
    handler=set_channel_preference,
    timeout_s=5.0,
    requires_identity=True,
    requires_account=True,
)
