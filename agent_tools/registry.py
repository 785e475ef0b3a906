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
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from backoffice.calls.interface import RecordsUnavailable

if TYPE_CHECKING:
    from agent_tools.scope import CallScope

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
    """What a handler knows about the call it acts on.

    ``scope`` is the call's session and its backoffice (see :mod:`agent_tools.scope`);
    the runtime fills it in. It is None only for tools that need no account (and in
    unit tests of the registry itself).
    """

    call_sid: str
    org_id: str
    account_id: str
    tool_call_id: str
    scope: CallScope | None = None


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """Hand the caller to a person at ``number`` after the person hears ``brief``."""

    number: str
    brief: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A result the agent can speak from.

    ``end_call`` asks the bridge to hang up once the agent's last words have played;
    ``transfer`` asks it to hand the caller to a person once they have played.
    """

    text: str
    is_error: bool = False
    end_call: bool = False
    transfer: TransferRequest | None = None
    #: The handler did not complete (it crashed or ran out of time): whatever it wrote
    #: must be undone, and a retry may run it again.
    failed: bool = False

    def to_record(self) -> dict[str, Any]:
        """The result as stored in the tool-call ledger (every repeat gets it back)."""
        record: dict[str, Any] = {"text": self.text, "is_error": self.is_error}
        if self.end_call:
            record["end_call"] = True
        if self.transfer is not None:
            record["transfer"] = {"number": self.transfer.number, "brief": self.transfer.brief}
        if self.failed:
            record["failed"] = True
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ToolResult:
        transfer = record.get("transfer")
        return cls(
            text=str(record.get("text", "")),
            is_error=bool(record.get("is_error", False)),
            end_call=bool(record.get("end_call", False)),
            failed=bool(record.get("failed", False)),
            transfer=TransferRequest(str(transfer["number"]), str(transfer["brief"]))
            if isinstance(transfer, dict)
            else None,
        )


Handler = Callable[[P, ToolContext], Awaitable[ToolResult]]


@dataclass(frozen=True, slots=True)
class Tool(Generic[P]):
    name: str
    description: str
    params: type[P]
    handler: Handler[P]
    timeout_s: float | None = None
    #: Refused until the caller has passed ``verify_identity`` (it reveals or changes
    #: the debt, or acts for the debtor).
    requires_identity: bool = False
    #: Refused while the call is about no account yet (an unmatched inbound caller).
    requires_account: bool = False
    #: Runs once per tool_call_id through the ledger (False: pure, cheap, repeatable).
    exactly_once: bool = True
    #: Needs no call session nor backoffice (``end_call``): it works even when the
    #: database does not answer, because ending a call must never fail.
    standalone: bool = False
    #: Calls a provider over the network (a message send): it must not run inside a
    #: database transaction, so its exactly-once claim commits on its own first.
    calls_out: bool = False

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
            # asyncio.timeout, not wait_for: the handler stays in this task, so it joins
            # the transaction its caller may have open (wait_for would start a task).
            async with asyncio.timeout(timeout):
                return await tool.handler(params, ctx)
        except (TimeoutError, RecordsUnavailable):
            log.warning("tool.timeout", tool=name, timeout_s=timeout)
            return ToolResult(TIMEOUT_RESULT, is_error=True, failed=True)
        except Exception:
            log.exception("tool.failed", tool=name)
            return ToolResult(FAILURE_RESULT, is_error=True, failed=True)
