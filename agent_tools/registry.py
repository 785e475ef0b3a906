"""One registry of everything the agent can do mid-call.

A tool is a name, a description written for the agent, a pydantic parameter model,
an async handler ``(params, ctx) -> ToolResult`` and a timeout. From the registry come
the client-tool dispatch used by the bridge and the JSON schemas sent to ElevenLabs.
:meth:`ToolRegistry.dispatch` never raises: an unknown tool, bad parameters, a
timeout or a crash in a handler all become an error result the agent can speak,
because an exception inside a live call must not end it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog
from pydantic import BaseModel, ValidationError

log = structlog.get_logger(__name__)

P = TypeVar("P", bound=BaseModel)

TIMEOUT_RESULT = (
    "The account system did not answer in time. Tell the caller you could not complete "
    "this right now and that it will be confirmed by message."
)
FAILURE_RESULT = (
    "Something went wrong while doing that. Apologise briefly and continue the call without it."
)


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a handler knows about the call it acts on."""

    call_sid: str
    org_id: str
    account_id: str
    tool_call_id: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A result the agent can speak from.

    ``end_call`` asks the bridge to hang up once the agent's last words have played.
    """

    text: str
    is_error: bool = False
    end_call: bool = False


Handler = Callable[[P, ToolContext], Awaitable[ToolResult]]


@dataclass(frozen=True, slots=True)
class Tool(Generic[P]):
    name: str
    description: str
    params: type[P]
    handler: Handler[P]
    timeout_s: float | None = None

    def client_tool_schema(self) -> dict[str, Any]:
        """The ElevenLabs client-tool definition (``type: client``) for this tool."""
        schema = self.params.model_json_schema()
        schema.pop("title", None)
        return {
            "type": "client",
            "name": self.name,
            "description": self.description,
            "parameters": schema,
            "expects_response": True,
            # Whole seconds, rounded up: the agent must not give up before the handler does.
            # One second beyond ours, so our own timeout result reaches the agent first.
            "response_timeout_secs": math.ceil(self.timeout_s or 20) + 1,
        }


class ToolRegistry:
    """Name -> tool. Adding a tool is one module and one :meth:`register` call."""

    def __init__(self, default_timeout_s: float = 8.0) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        self.default_timeout_s = default_timeout_s

    def register(self, tool: Tool[Any]) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def names(self) -> list[str]:
        return sorted(self._tools)

    def get(self, name: str) -> Tool[Any]:
        """Raises: KeyError for an unknown tool."""
        return self._tools[name]

    def schemas(self) -> list[dict[str, Any]]:
        return [self._tools[name].client_tool_schema() for name in self.names()]

    async def dispatch(self, name: str, parameters: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Validate and run one tool call within its timeout; never raises."""
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(f"There is no tool called {name!r}.", is_error=True)
        try:
            params = tool.params.model_validate(parameters)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'parameters'}: {err['msg']}"
                for err in exc.errors()
            )
            return ToolResult(f"Invalid parameters for {name}: {problems}", is_error=True)
        except Exception:  # a validator that raises something pydantic does not wrap
            log.exception("tool.params_failed", tool=name)
            return ToolResult(FAILURE_RESULT, is_error=True)
        timeout = tool.timeout_s or self.default_timeout_s
        try:
            return await asyncio.wait_for(tool.handler(params, ctx), timeout)
        except TimeoutError:
            log.warning("tool.timeout", tool=name, timeout_s=timeout)
            return ToolResult(TIMEOUT_RESULT, is_error=True)
        except Exception:
            log.exception("tool.failed", tool=name)
            return ToolResult(FAILURE_RESULT, is_error=True)
