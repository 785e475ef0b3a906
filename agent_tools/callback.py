"""``schedule_callback``: call the debtor back when they asked, within the allowed hours.

The time is what the caller said, on their own clock (the contact's time zone); a
time outside the organization's contact hours or days is moved to the next allowed
moment, and the agent is told so it can confirm the real time. No automated contact
happens before it (the strategy step waits for the callback).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent_tools import speech
from agent_tools.registry import Tool, ToolContext, ToolResult
from backoffice.calls.models import CallbackRequest
from backoffice.calls.rules import fit_callback, local_request
from backoffice.compliance.check import contact_zone


class ScheduleCallbackParams(BaseModel):
    at: str = Field(
        max_length=40,
        description=(
            "When to call back, as an ISO date-time on the caller's own clock, e.g. "
            "2026-12-03T18:30."
        ),
    )
    note: str = Field(default="", max_length=300, description="Anything to remember.")


async def schedule_callback(params: ScheduleCallbackParams, ctx: ToolContext) -> ToolResult:
    scope = ctx.scope
    assert scope is not None
    subject = await scope.records.call_subject(scope.org.id, scope.session.account_ref or "")
    zone_name = subject.timezone
    try:
        requested = local_request(params.at, contact_zone(scope.org, zone_name)[0])
    except ValueError:
        return speech.refusal(
            "That is not a date and time. Ask when to call back, with the day and the hour.",
            "invalid_time",
        )
    at, moved, zone = fit_callback(scope.org, zone_name, requested, scope.clock())
    result = await scope.records.schedule_callback(
        scope.call, CallbackRequest(at, params.note), ctx.tool_call_id
    )
    tool_result = speech.from_action(result)
    if moved and result.ok:
        local = at.astimezone(zone)
        return speech.reply(
            "That time is outside the hours we may call. The callback is booked for the next "
            f"allowed time instead: {local:%Y-%m-%d %H:%M} ({zone.key}). Tell the caller.",
            at=local.isoformat(),
            moved=True,
        )
    return tool_result


TOOL = Tool(
    name="schedule_callback",
    description=(
        "Book a call back at the time the caller asks for (on their own clock). You may "
        "do this before identity is verified: it reveals nothing."
    ),
    params=ScheduleCallbackParams,
    handler=schedule_callback,
    timeout_s=6.0,
    requires_account=True,
)
