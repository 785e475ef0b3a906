"""Checks an agent create/update body the way the service does, before it is stored.

Why: a client that sends a malformed tool (a property with two value sources, a
webhook without a URL, a duplicate tool name) gets a 422 from the real API at sync
time; the stand-in must refuse it too, or ``parley agent sync`` could pass here and
fail in production. Types are checked with the ``elevenlabs`` SDK's own models (the
provider's published schema); the rules those models cannot express are written
here from the SDK docstrings and the server-tools docs (reference §6).

Errors are FastAPI-style items, ``{"loc": [...], "msg": ..., "type": ...}``, as the
service's 422 ``detail`` lists them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from elevenlabs.types import (
    AgentPlatformSettingsRequestModel,
    ConversationalConfig,
)
from elevenlabs.types.prompt_agent_api_model_output_tools_item import (
    PromptAgentApiModelOutputToolsItem_Client,
    PromptAgentApiModelOutputToolsItem_System,
    PromptAgentApiModelOutputToolsItem_Webhook,
)
from pydantic import BaseModel, ValidationError

Json = dict[str, Any]
Loc = list[str | int]

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
LITERAL_TYPES = frozenset({"string", "integer", "number", "boolean"})
#: A literal property gets its value from exactly one of these (SDK ``LiteralJsonSchemaProperty``).
VALUE_SOURCES = (
    "description",
    "dynamic_variable",
    "is_system_provided",
    "constant_value",
    "is_omitted",
)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
HEADER_LOCATORS = frozenset({"secret_id", "variable_name", "env_var_label"})
_TOOL_MODELS: dict[str, type[BaseModel]] = {
    "client": PromptAgentApiModelOutputToolsItem_Client,
    "webhook": PromptAgentApiModelOutputToolsItem_Webhook,
    "system": PromptAgentApiModelOutputToolsItem_System,
}


def validate_agent_body(body: Any, *, creating: bool) -> list[Json]:
    """Every problem in an agents create (``creating``) or update body; empty if none."""
    errors: list[Json] = []
    if not isinstance(body, dict):
        return [_err(["body"], "Input should be a valid dictionary", "dict_type")]
    config = body.get("conversation_config")
    if config is None:
        if creating:
            errors.append(_err(["body", "conversation_config"], "Field required", "missing"))
    elif not isinstance(config, dict):
        errors.append(_err(["body", "conversation_config"], "Input should be a valid dictionary"))
    else:
        errors += _conversation_config(config)
    settings = body.get("platform_settings")
    if settings is not None:
        errors += _model(AgentPlatformSettingsRequestModel, settings, ["body", "platform_settings"])
        if isinstance(settings, dict):
            errors += _data_collection(settings.get("data_collection"))
    if "name" in body and body["name"] is not None and not isinstance(body["name"], str):
        errors.append(_err(["body", "name"], "Input should be a valid string", "string_type"))
    tags = body.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        errors.append(_err(["body", "tags"], "Input should be a list of strings", "list_type"))
    return errors


def _conversation_config(config: Json) -> list[Json]:
    where: Loc = ["body", "conversation_config"]
    agent = config.get("agent")
    prompt = agent.get("prompt") if isinstance(agent, dict) else None
    tools = prompt.get("tools") if isinstance(prompt, dict) else None
    without_tools = config
    if isinstance(agent, dict) and isinstance(prompt, dict) and tools is not None:
        without_tools = {**config, "agent": {**agent, "prompt": {**prompt, "tools": []}}}
    errors = _model(ConversationalConfig, without_tools, where)
    if tools is None:
        return errors
    tools_loc: Loc = [*where, "agent", "prompt", "tools"]
    if not isinstance(tools, list):
        return [*errors, _err(tools_loc, "Input should be a valid list", "list_type")]
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        errors += _tool(tool, [*tools_loc, index], seen)
    return errors


def _tool(tool: Any, loc: Loc, seen: set[str]) -> list[Json]:
    if not isinstance(tool, dict):
        return [_err(loc, "Input should be a valid dictionary", "dict_type")]
    kind = tool.get("type")
    model = _TOOL_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        allowed = ", ".join(sorted(_TOOL_MODELS))
        return [
            _err([*loc, "type"], f"Input tag {kind!r} is not one of {allowed}", "union_tag_invalid")
        ]
    errors = _model(model, tool, loc)
    name = tool.get("name")
    if isinstance(name, str):
        if not TOOL_NAME.match(name):
            errors.append(
                _err([*loc, "name"], "must match ^[a-zA-Z0-9_-]{1,64}$", "string_pattern_mismatch")
            )
        if name in seen:
            errors.append(_err([*loc, "name"], f"duplicate tool name {name!r}", "value_error"))
        seen.add(name)
    timeout = tool.get("response_timeout_secs")
    if isinstance(timeout, int) and not isinstance(timeout, bool):
        low = 5 if kind == "webhook" else 1
        high = 300 if kind == "webhook" else 120
        if not (low <= timeout <= high or (kind == "client" and timeout == -1)):
            errors.append(
                _err(
                    [*loc, "response_timeout_secs"],
                    f"must be between {low} and {high}",
                    "value_error",
                )
            )
    if kind == "client" and tool.get("parameters") is not None:
        errors += _object(tool["parameters"], [*loc, "parameters"], top=True)
    if kind == "webhook" and isinstance(tool.get("api_schema"), dict):
        errors += _api_schema(tool["api_schema"], [*loc, "api_schema"])
    return errors


def _api_schema(schema: Json, loc: Loc) -> list[Json]:
    errors: list[Json] = []
    url = schema.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        errors.append(_err([*loc, "url"], "must be an absolute http(s) URL", "url_parsing"))
    method = str(schema.get("method") or "GET").upper()
    if method not in METHODS:
        errors.append(_err([*loc, "method"], f"must be one of {sorted(METHODS)}", "enum"))
    body = schema.get("request_body_schema")
    if body is not None:
        if method not in ("POST", "PUT", "PATCH"):
            errors.append(
                _err(
                    [*loc, "request_body_schema"],
                    "only POST, PUT and PATCH send a body",
                    "value_error",
                )
            )
        errors += _object(body, [*loc, "request_body_schema"], top=True)
    for name, value in (schema.get("request_headers") or {}).items():
        if isinstance(value, str):
            continue
        if not (isinstance(value, dict) and len(value) == 1 and set(value) <= HEADER_LOCATORS):
            errors.append(
                _err(
                    [*loc, "request_headers", name],
                    "must be a string or one of {secret_id}, {variable_name}, {env_var_label}",
                    "value_error",
                )
            )
    return errors


def _property(prop: Any, loc: Loc) -> list[Json]:
    if not isinstance(prop, dict):
        return [_err(loc, "Input should be a valid dictionary", "dict_type")]
    kind = prop.get("type")
    if kind == "object":
        return _object(prop, loc, top=False)
    if kind == "array":
        items = prop.get("items")
        if items is None:
            return [_err([*loc, "items"], "Field required", "missing")]
        return _sources(prop, loc, literal=False) + _property(items, [*loc, "items"])
    if kind not in LITERAL_TYPES:
        return [
            _err([*loc, "type"], f"must be one of {sorted(LITERAL_TYPES | {'object', 'array'})}")
        ]
    errors = _sources(prop, loc, literal=True)
    if prop.get("enum") is not None and kind != "string":
        errors.append(
            _err([*loc, "enum"], "enum is only allowed for string properties", "value_error")
        )
    return errors


def _object(obj: Any, loc: Loc, *, top: bool) -> list[Json]:
    if not isinstance(obj, dict):
        return [_err(loc, "Input should be a valid dictionary", "dict_type")]
    if obj.get("type", "object") != "object":
        return [_err([*loc, "type"], "must be 'object'", "literal_error")]
    errors = [] if top else _sources(obj, loc, literal=False)
    properties = obj.get("properties") or {}
    if not isinstance(properties, dict):
        return [*errors, _err([*loc, "properties"], "Input should be a valid dictionary")]
    for name, prop in properties.items():
        errors += _property(prop, [*loc, "properties", name])
    for name in obj.get("required") or []:
        if name not in properties:
            errors.append(_err([*loc, "required"], f"{name!r} is not a property", "value_error"))
    return errors


def _sources(prop: Json, loc: Loc, *, literal: bool) -> list[Json]:
    """Exactly one value source for a literal; at most one for an object or array."""
    present = [key for key in VALUE_SOURCES if _has_source(prop, key)]
    if len(present) > 1:
        return [_err(loc, f"only one of {', '.join(present)} may be set", "value_error")]
    if literal and not present:
        return [
            _err(
                loc,
                "one of description, dynamic_variable, is_system_provided, constant_value "
                "or is_omitted is required",
                "value_error",
            )
        ]
    return []


def _has_source(prop: Json, key: str) -> bool:
    value = prop.get(key)
    if key == "constant_value":
        return value is not None
    return value not in (None, False, "")


def _data_collection(items: Any) -> list[Json]:
    if not isinstance(items, dict):
        return []
    errors: list[Json] = []
    for key, item in items.items():
        loc: Loc = ["body", "platform_settings", "data_collection", key]
        if isinstance(item, dict):
            if item.get("type") not in LITERAL_TYPES:
                errors.append(_err([*loc, "type"], f"must be one of {sorted(LITERAL_TYPES)}"))
            if not item.get("description"):
                errors.append(_err([*loc, "description"], "Field required", "missing"))
    return errors


def _model(model: type[BaseModel], value: Any, loc: Loc) -> list[Json]:
    try:
        model.model_validate(value)
    except ValidationError as exc:
        return [
            _err([*loc, *err["loc"]], err["msg"], err["type"])
            for err in exc.errors(include_url=False)
        ][:20]
    return []


def _err(loc: Loc, msg: str, kind: str = "value_error") -> Json:
    return {"loc": loc, "msg": msg, "type": kind}
