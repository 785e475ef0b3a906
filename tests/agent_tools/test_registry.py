"""agent_tools.registry: dispatch never raises; every failure is a result the agent can speak."""

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel, Field, field_validator

from agent_tools import end_call
from agent_tools.catalog import default_registry
from agent_tools.registry import (
    FAILURE_RESULT,
    TIMEOUT_RESULT,
    Tool,
    ToolContext,
    ToolRegistry,
    ToolResult,
)

CTX = ToolContext(call_sid="CA1", org_id="org_1", account_id="acct_42", tool_call_id="tc_1")


class Date(BaseModel):
    day: int = Field(ge=1, le=31)
    month: int = Field(ge=1, le=12)


class PromiseParams(BaseModel):
    amount: float = Field(gt=0, description="Amount promised.")
    currency: str = "EUR"
    date: Date | None = None


seen: list[tuple[PromiseParams, ToolContext]] = []


async def record_promise(params: PromiseParams, ctx: ToolContext) -> ToolResult:
    seen.append((params, ctx))
    return ToolResult(f"Recorded {params.amount} {params.currency}.")


class NoParams(BaseModel):
    pass


async def slow(params: NoParams, ctx: ToolContext) -> ToolResult:
    await asyncio.sleep(30)
    return ToolResult("too late")


async def crash(params: NoParams, ctx: ToolContext) -> ToolResult:
    raise RuntimeError("database is on fire")


def not_async(params: NoParams, ctx: ToolContext) -> ToolResult:
    raise KeyError("raised before any await")


class Picky(BaseModel):
    code: str

    @field_validator("code")
    @classmethod
    def _lookup(cls, code: str) -> str:
        raise LookupError("a validator that fails in a way pydantic does not wrap")


async def never_called(params: Picky, ctx: ToolContext) -> ToolResult:
    raise AssertionError("unreachable")


def registry(default_timeout_s: float = 8.0) -> ToolRegistry:
    reg = ToolRegistry(default_timeout_s)
    reg.register(Tool("record_promise", "Record a promise to pay.", PromiseParams, record_promise))
    reg.register(Tool("slow", "Takes its time.", NoParams, slow, timeout_s=0.05))
    reg.register(Tool("slow_default", "Uses the default timeout.", NoParams, slow))
    reg.register(Tool("crash", "Always fails.", NoParams, crash))
    reg.register(Tool("not_async", "Fails at call time.", NoParams, not_async))  # type: ignore[arg-type]
    reg.register(Tool("picky", "Its validator fails.", Picky, never_called))
    return reg


async def test_a_valid_call_runs_the_handler_with_parsed_params_and_context() -> None:
    seen.clear()
    result = await registry().dispatch("record_promise", {"amount": "50.5"}, CTX)
    assert result == ToolResult("Recorded 50.5 EUR.")
    ((params, ctx),) = seen
    assert params == PromiseParams(amount=50.5)
    assert ctx is CTX


async def test_an_unknown_tool_is_an_error_result() -> None:
    result = await registry().dispatch("transfer_money", {}, CTX)
    assert result.is_error
    assert "transfer_money" in result.text
    assert not result.end_call


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": "fifty"}, "amount"),
        ({"amount": 5, "currency": 3}, "currency"),
        ({"amount": 5, "date": {"day": 40, "month": 1}}, "date.day"),
        ({"amount": 5, "date": {"day": 1}}, "date.month"),
    ],
)
async def test_invalid_parameters_name_the_field(parameters: dict[str, Any], field: str) -> None:
    seen.clear()
    result = await registry().dispatch("record_promise", parameters, CTX)
    assert result.is_error
    assert result.text.startswith("Invalid parameters for record_promise: ")
    assert f"{field}: " in result.text
    assert seen == []


async def test_a_handler_over_its_timeout_is_an_error_result() -> None:
    result = await registry().dispatch("slow", {}, CTX)
    assert result == ToolResult(TIMEOUT_RESULT, is_error=True, failed=True)


async def test_the_default_timeout_applies_to_a_tool_without_one() -> None:
    result = await registry(default_timeout_s=0.05).dispatch("slow_default", {}, CTX)
    assert result == ToolResult(TIMEOUT_RESULT, is_error=True, failed=True)


@pytest.mark.parametrize("name", ["crash", "not_async", "picky"])
async def test_a_crash_anywhere_is_an_error_result(name: str) -> None:
    result = await registry().dispatch(name, {"code": "X"}, CTX)
    # A handler that started and did not finish is "failed" (its writes are undone and a
    # retry may run it); a validator that fails ran nothing.
    assert result == ToolResult(FAILURE_RESULT, is_error=True, failed=name != "picky")


async def test_cancelling_a_dispatch_still_cancels() -> None:
    task = asyncio.create_task(registry().dispatch("slow_default", {}, CTX))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_name_is_registered_once() -> None:
    reg = registry()
    with pytest.raises(ValueError, match="record_promise"):
        reg.register(Tool("record_promise", "again", PromiseParams, record_promise))


def test_names_get_and_schemas() -> None:
    reg = registry()
    assert reg.names() == sorted(reg.names())
    assert reg.get("crash").name == "crash"
    with pytest.raises(KeyError):
        reg.get("nope")
    schemas = {s["name"]: s for s in reg.schemas()}
    promise = schemas["record_promise"]
    assert promise["type"] == "client"
    assert promise["expects_response"] is True
    assert promise["parameters"]["required"] == ["amount"]
    assert "title" not in promise["parameters"]
    assert promise["response_timeout_secs"] == 21
    # The agent waits longer than the handler may take, so our timeout result wins.
    assert schemas["slow"]["response_timeout_secs"] == 2


async def test_the_built_in_end_call_tool() -> None:
    reg = default_registry()
    assert "end_call" in reg.names()
    result = await reg.dispatch("end_call", {"reason": "caller said goodbye"}, CTX)
    assert result.end_call
    assert not result.is_error
    too_long = await reg.dispatch("end_call", {"reason": "x" * 201}, CTX)
    assert too_long.is_error
    assert "reason: " in too_long.text
    assert end_call.TOOL.client_tool_schema()["response_timeout_secs"] == 3
