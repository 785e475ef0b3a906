"""The registry with every built-in tool, assembled in one place."""

from __future__ import annotations

from agent_tools import end_call
from agent_tools.registry import ToolRegistry


def default_registry(default_timeout_s: float = 8.0) -> ToolRegistry:
    registry = ToolRegistry(default_timeout_s)
    registry.register(end_call.TOOL)
    return registry
