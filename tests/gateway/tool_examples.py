"""Valid and invalid parameter values for a tool, made from its pydantic model.

Used to prove that the schema sent to ElevenLabs agrees with the model: it must
accept a value the model accepts and refuse one the model refuses. Values come from
the model's own JSON schema (``examples`` first, then the type, format and bounds);
a field whose ``pattern`` the generator cannot satisfy needs
``Field(examples=[...])``, and the failure says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

#: Values tried, in order, for a string with a ``pattern``.
PATTERN_CANDIDATES = ("1234", "+14155550123", "A1", "abc", "2030-01-04", "12:30", "x")
#: A JSON value of the wrong kind for each JSON type (pydantic refuses them all).
WRONG = {
    "string": {"unexpected": "object"},
    "integer": {"unexpected": "object"},
    "number": {"unexpected": "object"},
    "boolean": {"unexpected": "object"},
    "array": {"unexpected": "object"},
    "object": "not an object",
}


class NoExample(AssertionError):
    pass


def valid_example(model: type[BaseModel]) -> dict[str, Any]:
    """Every field of ``model`` with a value it accepts (checked with the model)."""
    schema = model.model_json_schema()
    value = _value(schema, schema.get("$defs") or {}, model.__name__, everything=True)
    model.model_validate(value)
    assert isinstance(value, dict)
    return value


def invalid_example(model: type[BaseModel]) -> tuple[str, Any]:
    """A valid example with one field of the wrong JSON type: (field, value).

    A model without fields gets a list instead of an object (field ``""``).
    """
    schema = model.model_json_schema()
    defs = schema.get("$defs") or {}
    example = valid_example(model)
    properties = schema.get("properties") or {}
    names = list(schema.get("required") or []) or list(properties)
    if not names:
        return "", ["not", "an", "object"]
    name = names[0]
    kind = _kind(_resolve(properties[name], defs))
    return name, {**example, name: WRONG[kind]}


def _resolve(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in prop:
        prop = {**defs[str(prop["$ref"]).rsplit("/", 1)[-1]], **{
            k: v for k, v in prop.items() if k != "$ref"}}
    branches = prop.get("anyOf") or prop.get("oneOf")
    if branches:
        options = [b for b in branches if b.get("type") != "null"]
        return _resolve({**options[0], **{k: v for k, v in prop.items()
                                         if k not in ("anyOf", "oneOf")}}, defs)
    return prop


def _kind(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type")
    if kind is None:
        if "properties" in prop:
            return "object"
        values = prop.get("enum") or [prop.get("const")]
        return "string" if all(isinstance(v, str) for v in values) else "number"
    return str(kind)


def _value(prop: Mapping[str, Any], defs: Mapping[str, Any], path: str, everything: bool) -> Any:
    if prop.get("examples"):
        return prop["examples"][0]
    prop = _resolve(prop, defs)
    if prop.get("examples"):
        return prop["examples"][0]
    if "const" in prop:
        return prop["const"]
    if prop.get("enum"):
        return prop["enum"][0]
    kind = _kind(prop)
    if kind == "object":
        return {
            name: _value(child, defs, f"{path}.{name}", everything)
            for name, child in (prop.get("properties") or {}).items()
            if everything or name in (prop.get("required") or [])
        }
    if kind == "array":
        count = max(1, int(prop.get("minItems", 1)))
        return [_value(prop.get("items") or {"type": "string"}, defs, f"{path}[]", everything)
                for _ in range(count)]
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return _number(prop, kind)
    return _string(prop, path)


def _number(prop: Mapping[str, Any], kind: str) -> int | float:
    low = prop.get("minimum", prop.get("exclusiveMinimum"))
    value: int | float = 1 if low is None else low + (1 if "exclusiveMinimum" in prop else 0)
    high = prop.get("maximum", prop.get("exclusiveMaximum"))
    if high is not None and value > high:
        value = high
    return int(value) if kind == "integer" else float(value)


def _string(prop: Mapping[str, Any], path: str) -> str:
    fmt = prop.get("format")
    if fmt == "date":
        return "2030-01-04"
    if fmt == "date-time":
        return "2030-01-04T10:30:00+00:00"
    if fmt == "time":
        return "10:30:00"
    if fmt == "email":
        return "ana@example.com"
    pattern = prop.get("pattern")
    if pattern:
        for candidate in PATTERN_CANDIDATES:
            if re.search(pattern, candidate):
                return candidate
        raise NoExample(f"{path}: give it Field(examples=[...]) matching {pattern}")
    low = int(prop.get("minLength", 1))
    size = max(low, min(7, int(prop.get("maxLength", 7))))
    return ("example " * (size // 8 + 1))[:size]
