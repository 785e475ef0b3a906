"""A tool's pydantic JSON schema, rewritten in the dialect ElevenLabs tool parameters use.

Why a rewrite: ElevenLabs describes tool parameters with its own small schema
(SDK ``LiteralJsonSchemaProperty`` / ``ObjectJsonSchemaProperty`` /
``ArrayJsonSchemaProperty``): ``type`` (string, integer, number, boolean, object,
array), ``description``, ``enum`` (strings), ``properties``/``required``, ``items``.
Each literal needs exactly one value source, which for parameters the LLM fills is
its ``description``. There is no ``$ref``, ``anyOf``, ``format``, ``maxLength`` or
``minimum``. Pydantic's schema uses all of those, so:

- ``$ref`` is inlined; ``anyOf [X, null]`` (an optional field) becomes X; a union
  of several types keeps the first of number, integer, string, boolean, object,
  array that it has (``Decimal`` is ``number | string``: a number);
- ``format``, length, range and pattern constraints move into the description, in
  words the agent can follow ("a date as YYYY-MM-DD", "at most 200 characters"),
  so what the agent sends still passes the parameter model, which checks them again
  when the tool runs;
- a field without a description gets its title (the field name in words).

The result is also plain JSON Schema, so ``jsonschema`` can check values against
it (the tests prove it agrees with the pydantic model).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Json = dict[str, Any]

_TYPE_PREFERENCE = ("number", "integer", "string", "boolean", "object", "array")
_FORMATS = {
    "date": "A date as YYYY-MM-DD.",
    "date-time": "A date and time in ISO 8601 with its UTC offset, e.g. 2025-06-30T15:00:00-05:00.",
    "time": "A time of day as HH:MM.",
    "email": "An email address.",
    "uri": "A URL.",
    "uuid": "A UUID.",
}


class SchemaError(ValueError):
    """A parameter schema that cannot be expressed for ElevenLabs (names the field)."""


def elevenlabs_parameters(schema: Mapping[str, Any], *, tool: str = "") -> Json:
    """The ``parameters`` object of a tool, from its pydantic ``model_json_schema()``.

    Raises:
        SchemaError: a field whose type cannot be expressed (the message names it).
    """
    defs = schema.get("$defs") or {}
    return _object(schema, defs, path=tool or "parameters", top=True)


def _object(schema: Mapping[str, Any], defs: Mapping[str, Any], path: str, *, top: bool) -> Json:
    properties = schema.get("properties") or {}
    out: Json = {"type": "object"}
    if not top:
        out["description"] = _description(schema, path)
    out["properties"] = {
        name: _property(prop, defs, f"{path}.{name}", name) for name, prop in properties.items()
    }
    out["required"] = [name for name in schema.get("required") or [] if name in properties]
    return out


def _property(prop: Mapping[str, Any], defs: Mapping[str, Any], path: str, name: str) -> Json:
    resolved = _resolve(prop, defs, path)
    # Keep the outer description/title: they describe this field, not the shared type.
    merged = {**resolved, **{k: v for k, v in prop.items() if k in ("description", "title")}}
    if "title" not in merged:
        merged["title"] = name.replace("_", " ").capitalize()
    kind = _type(merged, path)
    if kind == "object":
        return _object(merged, defs, path, top=False)
    if kind == "array":
        items = merged.get("items") or {"type": "string"}
        item = _property(items, defs, f"{path}[]", "item")
        return {"type": "array", "description": _description(merged, path), "items": item}
    out: Json = {"type": kind, "description": _description(merged, path)}
    enum = merged.get("enum")
    if "const" in merged:
        enum = [merged["const"]]
    if enum is not None:
        if kind == "string" and all(isinstance(v, str) for v in enum):
            out["enum"] = list(enum)
        else:
            out["description"] += " One of: " + ", ".join(str(v) for v in enum) + "."
    return out


def _resolve(prop: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    """Follow ``$ref``/``allOf`` and drop the ``null`` branch of an optional field."""
    seen = 0
    while True:
        seen += 1
        if seen > 20:
            raise SchemaError(f"{path}: recursive schema")
        if "$ref" in prop:
            ref = str(prop["$ref"])
            key = ref.rsplit("/", 1)[-1]
            if key not in defs:
                raise SchemaError(f"{path}: unresolved reference {ref}")
            prop = {**defs[key], **{k: v for k, v in prop.items() if k != "$ref"}}
            continue
        if "allOf" in prop and len(prop["allOf"]) == 1:
            prop = {**prop["allOf"][0], **{k: v for k, v in prop.items() if k != "allOf"}}
            continue
        branches = prop.get("anyOf") or prop.get("oneOf")
        if branches:
            options = [b for b in branches if b.get("type") != "null"]
            if not options:
                raise SchemaError(f"{path}: only null is allowed")
            chosen = _prefer([_resolve(b, defs, path) for b in options])
            rest = {k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}
            prop = {**chosen, **rest}
            continue
        return prop


def _prefer(options: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    for kind in _TYPE_PREFERENCE:
        for option in options:
            if option.get("type") == kind or ("enum" in option and kind == "string"):
                return option
    return options[0]


def _type(prop: Mapping[str, Any], path: str) -> str:
    kind = prop.get("type")
    if kind is None and ("enum" in prop or "const" in prop):
        values = prop.get("enum") or [prop.get("const")]
        kind = "string" if all(isinstance(v, str) for v in values) else "number"
    if kind is None and "properties" in prop:
        kind = "object"
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = next((k for k in _TYPE_PREFERENCE if k in kinds), None)
    if kind not in _TYPE_PREFERENCE:
        raise SchemaError(f"{path}: type {kind!r} cannot be sent to ElevenLabs")
    return str(kind)


def _description(prop: Mapping[str, Any], path: str) -> str:
    text = str(prop.get("description") or prop.get("title") or path.rsplit(".", 1)[-1]).strip()
    if text and text[-1] not in ".?!":
        text += "."
    hints: list[str] = []
    fmt = prop.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS and not (fmt == "date" and "YYYY" in text):
        hints.append(_FORMATS[fmt])
    if "minLength" in prop and "maxLength" in prop:
        hints.append(f"Between {prop['minLength']} and {prop['maxLength']} characters.")
    elif "maxLength" in prop:
        hints.append(f"At most {prop['maxLength']} characters.")
    elif prop.get("minLength", 0) > 1:
        hints.append(f"At least {prop['minLength']} characters.")
    hints += _range(prop)
    if "pattern" in prop and "format" not in prop and prop.get("type") == "string":
        hints.append(f"Must match the pattern {prop['pattern']}.")
    if "minItems" in prop or "maxItems" in prop:
        low, high = prop.get("minItems"), prop.get("maxItems")
        hints.append(
            f"Between {low} and {high} items."
            if low is not None and high is not None
            else (f"At least {low} items." if low is not None else f"At most {high} items.")
        )
    return " ".join([text, *hints])


def _num(value: Any) -> Any:
    """``0.0`` -> ``0``: bounds read as people write them."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _range(prop: Mapping[str, Any]) -> list[str]:
    low, high = _num(prop.get("minimum")), _num(prop.get("maximum"))
    above, below = _num(prop.get("exclusiveMinimum")), _num(prop.get("exclusiveMaximum"))
    if low is not None and high is not None:
        return [f"From {low} to {high}."]
    parts = []
    if low is not None:
        parts.append(f"At least {low}.")
    if above is not None:
        parts.append(f"Greater than {above}.")
    if high is not None:
        parts.append(f"At most {high}.")
    if below is not None:
        parts.append(f"Less than {below}.")
    return parts
