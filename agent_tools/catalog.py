"""The registry with every built-in tool, assembled in one place."""

from __future__ import annotations

from agent_tools import (
    account,
    callback,
    cases,
    contact_details,
    debt_summary,
    end_call,
    identity,
    opt_out,
    promise,
    transfer,
)
from agent_tools.registry import ToolRegistry

ALL_TOOLS = (
    identity.VERIFY_IDENTITY,
    identity.REPORT_WRONG_PERSON,
    account.LOOKUP_ACCOUNT,
    account.SELECT_ACCOUNT,
    promise.TOOL,
    callback.TOOL,
    cases.DISPUTE,
    cases.HARDSHIP,
    cases.ESCALATE,
    opt_out.TOOL,
    contact_details.ALTERNATE_NUMBER,
    contact_details.CHANNEL_PREFERENCE,
    debt_summary.TOOL,
    transfer.TOOL,
    end_call.TOOL,
)


def default_registry(default_timeout_s: float = 8.0) -> ToolRegistry:
    registry = ToolRegistry(default_timeout_s)
    for tool in ALL_TOOLS:
        registry.register(tool)
    return registry
