"""``GET /api/openapi.json``: the OpenAPI 3.1 description, made from the declarations.

Because it is generated from the same :class:`~backoffice.api.framework.Endpoint`
objects that build the routes, the description cannot drift from the code.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from backoffice.api.framework import Endpoint

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
    "required": ["error"],
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF, mode="serialization")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _operation(endpoint: Endpoint, components: dict[str, Any]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(endpoint.path)
    ]
    if endpoint.query is not None:
        for name, field in endpoint.query.model_fields.items():
            parameters.append(
                {
                    "name": field.alias or name,
                    "in": "query",
                    "required": field.is_required(),
                    "description": field.description or "",
                    "schema": endpoint.query.model_json_schema()["properties"].get(name, {}),
                }
            )
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": endpoint.handler.__name__,
        "tags": [endpoint.tag],
        "description": f"Requires the `{endpoint.role}` role or higher.",
        "parameters": parameters,
        "responses": {
            str(endpoint.status): {
                "description": "OK",
                "content": {
                    "application/json": {
                        "schema": _schema(endpoint.response, components)
                        if endpoint.response
                        else {}
                    }
                },
            },
            "401": {"description": "Missing or invalid API key", "content": _error()},
            "403": {"description": "Role not allowed", "content": _error()},
            "404": {"description": "Not found in your organization", "content": _error()},
            "422": {"description": "Invalid input, per field", "content": _error()},
        },
    }
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(endpoint.body, components)}},
        }
    elif endpoint.raw_body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {endpoint.raw_body: {"schema": {"type": "string", "format": "binary"}}},
        }
    return operation


def _error() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}


def openapi(endpoints: list[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        path = _PATH_PARAM.sub(r"{\1}", endpoint.path)
        paths.setdefault(path, {})[endpoint.method.lower()] = _operation(endpoint, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}],
    }
