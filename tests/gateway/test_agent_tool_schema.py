"""Tool parameter schemas in ElevenLabs' dialect agree with the pydantic models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field, ValidationError

from agent_tools.catalog import default_registry
from agent_tools.registry import Tool, ToolContext, ToolRegistry, ToolResult
from gateway.agent_config import client_tool
from gateway.agent_tool_schema import SchemaError, elevenlabs_parameters
from gateway.standins.elevenlabs.agent_validation import validate_agent_body
from tests.gateway.tool_examples import invalid_example, valid_example


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class Window(BaseModel):
    start: dt.time = Field(description="From when.")
    end: dt.time


class Sample(BaseModel):
    """Every kind of field a parley tool uses."""

    amount: Decimal = Field(gt=0, description="Amount in the account's currency")
    date: dt.date = Field(description="When they will pay.")
    at: dt.datetime | None = None
    digits: str = Field(pattern=r"^\d{4}$", description="Last four digits.")
    phone: str = Field(pattern=r"^\+[1-9]\d{6,14}$", examples=["+34600111222"])
    channel: Channel = Channel.SMS
    kind: Literal["a", "b"] = "a"
    rating: int = Field(ge=1, le=5, description="One to five.")
    note: str = Field(default="", max_length=200)
    confirm: bool = False
    tags: list[str] = Field(default_factory=list, max_length=3)
    window: Window | None = None


async def _handler(params: BaseModel, ctx: ToolContext) -> ToolResult:
    return ToolResult("ok")


def sample_registry() -> ToolRegistry:
    registry = default_registry()
    registry.register(Tool("sample_tool", "A sample.", Sample, _handler, timeout_s=4))
    return registry


def test_pydantic_features_become_elevenlabs_properties() -> None:
    params = elevenlabs_parameters(Sample.model_json_schema())
    props = params["properties"]
    assert params["type"] == "object"
    assert set(params["required"]) == {"amount", "date", "digits", "phone", "rating"}
    assert props["amount"] == {
        "type": "number",
        "description": "Amount in the account's currency. Greater than 0.",
    }
    assert props["date"]["type"] == "string"
    assert "YYYY-MM-DD" in props["date"]["description"]
    assert props["at"]["type"] == "string" and "ISO 8601" in props["at"]["description"]
    assert props["channel"] == {
        "type": "string", "description": "Channel.", "enum": ["sms", "email"]
    }
    assert props["kind"]["enum"] == ["a", "b"]
    assert props["rating"] == {"type": "integer", "description": "One to five. From 1 to 5."}
    assert "At most 200 characters." in props["note"]["description"]
    assert props["tags"]["type"] == "array" and props["tags"]["items"]["type"] == "string"
    window = props["window"]
    assert window["type"] == "object" and window["required"] == ["start", "end"]
    assert window["properties"]["start"]["description"].startswith("From when.")
    assert "$ref" not in str(params) and "anyOf" not in str(params)


def test_the_converted_tools_pass_the_services_rules() -> None:
    tools = [client_tool(sample_registry().get(name)) for name in sample_registry().names()]
    body = {"conversation_config": {"agent": {"prompt": {"prompt": "p", "tools": tools}}}}
    assert validate_agent_body(body, creating=True) == []


def test_an_inexpressible_type_is_named() -> None:
    schema = {"properties": {"blob": {"type": "null"}}, "type": "object"}
    with pytest.raises(SchemaError, match=r"t\.blob"):
        elevenlabs_parameters(schema, tool="t")


def _tools(registry: ToolRegistry) -> list[tuple[str, type[BaseModel], dict[str, Any]]]:
    return [
        (name, registry.get(name).params, client_tool(registry.get(name))["parameters"])
        for name in registry.names()
    ]


@pytest.mark.parametrize(
    ("name", "model", "schema"), _tools(sample_registry()), ids=lambda v: str(v)[:30]
)
def test_each_schema_accepts_what_the_model_accepts_and_refuses_what_it_refuses(
    name: str, model: type[BaseModel], schema: dict[str, Any]
) -> None:
    good = valid_example(model)
    jsonschema.validate(good, schema)
    field, bad = invalid_example(model)
    with pytest.raises(ValidationError):
        model.model_validate(bad)
    with pytest.raises(jsonschema.ValidationError) as refused:
        jsonschema.validate(bad, schema)
    assert list(refused.value.path)[:1] == ([field] if field else [])
