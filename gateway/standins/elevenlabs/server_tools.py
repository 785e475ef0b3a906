"""Server (webhook) tools: the HTTP request the service makes when the agent calls one.

How the service builds it (reference §6.2, SDK ``WebhookToolApiSchemaConfigInput``):

- ``api_schema.url`` with ``{name}`` path parameters filled from
  ``path_params_schema``; ``query_params_schema`` properties become the query string;
  ``request_body_schema`` (POST/PUT/PATCH) becomes the JSON (or form) body;
- every property gets its value from exactly one source: the LLM (it has a
  ``description``: here, the script step's parameter of that name), a
  ``dynamic_variable`` (the conversation's, ``system__conversation_id`` included), a
  ``constant_value``, ``is_system_provided`` (``system__<name>``), or none
  (``is_omitted``). Nothing else is sent: a script parameter the schema does not
  name is dropped, as an LLM could not produce it;
- ``request_headers``: a plain string (``{{var}}`` filled), ``{"secret_id"}`` (a
  workspace secret), ``{"variable_name"}`` (a dynamic variable) or
  ``{"env_var_label"}``;
- ``response_timeout_secs`` (default 20) bounds the wait. A 2xx answer's body is the
  result the agent speaks from; any other status, a timeout or a refused connection
  is a tool error.

:func:`build_request` is pure; :func:`call` does the I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.standins.elevenlabs.script import fill, references

Json = dict[str, Any]
DEFAULT_TIMEOUT_S = 20.0


class WebhookConfigError(Exception):
    """The tool cannot be called as configured (unknown secret, bad URL...)."""


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    method: str
    url: str
    headers: dict[str, str]
    query: dict[str, str]
    #: The body object (None when the method sends none).
    body: Json | None
    form: bool
    timeout_s: float
    dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    is_error: bool
    #: What the agent "hears": the response body, or a short error description.
    text: str
    status: int | None
    error: str | None
    latency_s: float


def dynamic_references(tool: Mapping[str, Any]) -> set[str]:
    """Every dynamic variable a webhook tool needs (properties and headers)."""
    schema = tool.get("api_schema") or {}
    names: set[str] = set()

    def walk(prop: Any) -> None:
        if not isinstance(prop, dict):
            return
        if isinstance(prop.get("dynamic_variable"), str):
            names.add(prop["dynamic_variable"])
        for child in (prop.get("properties") or {}).values():
            walk(child)
        walk(prop.get("items"))

    walk(schema.get("request_body_schema"))
    walk(schema.get("query_params_schema"))
    for prop in (schema.get("path_params_schema") or {}).values():
        walk(prop)
    for value in (schema.get("request_headers") or {}).values():
        if isinstance(value, dict) and isinstance(value.get("variable_name"), str):
            names.add(value["variable_name"])
        elif isinstance(value, str):
            names |= references(value)
    return names


def build_request(
    tool: Mapping[str, Any],
    params: Mapping[str, Any],
    variables: Mapping[str, Any],
    secret: Callable[[str], str | None],
    env: Mapping[str, str],
) -> WebhookRequest:
    """The request for one call of ``tool`` with the LLM's ``params``.

    Raises:
        WebhookConfigError: a header names an unknown secret or environment variable,
            or the URL lacks a path parameter's value.
    """
    schema = tool.get("api_schema")
    if not isinstance(schema, Mapping) or not isinstance(schema.get("url"), str):
        raise WebhookConfigError("api_schema.url is missing")
    method = str(schema.get("method") or "GET").upper()
    used: set[str] = set()

    url = schema["url"]
    for name, prop in (schema.get("path_params_schema") or {}).items():
        present, value = _value(name, prop, params, variables, used)
        if not present:
            raise WebhookConfigError(f"no value for path parameter {name!r}")
        url = url.replace("{" + name + "}", str(value))

    query: dict[str, str] = {}
    query_schema = schema.get("query_params_schema") or {}
    for name, prop in (query_schema.get("properties") or {}).items():
        present, value = _value(name, prop, params, variables, used)
        if present:
            query[name] = _query_text(value)

    body: Json | None = None
    body_schema = schema.get("request_body_schema")
    if isinstance(body_schema, Mapping) and method in ("POST", "PUT", "PATCH"):
        body = _object(body_schema, params, variables, used)

    headers = {
        name: _header(name, value, variables, secret, env)
        for name, value in (schema.get("request_headers") or {}).items()
    }
    timeout = tool.get("response_timeout_secs") or DEFAULT_TIMEOUT_S
    return WebhookRequest(
        method=method,
        url=url,
        headers=headers,
        query=query,
        body=body,
        form=schema.get("content_type") == "application/x-www-form-urlencoded",
        timeout_s=float(timeout),
        dropped=sorted(set(params) - used),
    )


async def call(client: httpx.AsyncClient, request: WebhookRequest) -> WebhookOutcome:
    """Make the request; never raises (every failure is an error outcome)."""
    started = time.monotonic()
    try:
        response = await client.request(
            request.method,
            request.url,
            params=request.query or None,
            headers=request.headers,
            json=None if request.form else request.body,
            data=request.body if request.form else None,
            timeout=request.timeout_s,
        )
    except httpx.TimeoutException:
        return WebhookOutcome(
            True, "The tool did not answer in time.", None, "timeout", time.monotonic() - started
        )
    except httpx.HTTPError as exc:
        return WebhookOutcome(
            True,
            "The tool could not be reached.",
            None,
            f"connection error: {exc!r}",
            time.monotonic() - started,
        )
    latency = time.monotonic() - started
    text = response.text
    if response.is_success:
        return WebhookOutcome(False, text, response.status_code, None, latency)
    return WebhookOutcome(
        True,
        text or f"HTTP {response.status_code}",
        response.status_code,
        f"HTTP {response.status_code}",
        latency,
    )


def _object(
    schema: Mapping[str, Any],
    params: Mapping[str, Any],
    variables: Mapping[str, Any],
    used: set[str],
) -> Json:
    out: Json = {}
    for name, prop in (schema.get("properties") or {}).items():
        present, value = _value(name, prop, params, variables, used)
        if present:
            out[name] = value
    return out


def _value(
    name: str,
    prop: Any,
    params: Mapping[str, Any],
    variables: Mapping[str, Any],
    used: set[str],
) -> tuple[bool, Any]:
    """Whether the property is sent, and its value, from its one source."""
    if not isinstance(prop, Mapping) or prop.get("is_omitted"):
        return False, None
    if prop.get("constant_value") is not None:
        return True, prop["constant_value"]
    variable = prop.get("dynamic_variable")
    if isinstance(variable, str) and variable:
        return (variable in variables), variables.get(variable)
    if prop.get("is_system_provided"):
        key = f"system__{name}"
        return (key in variables), variables.get(key)
    if prop.get("type") == "object" and prop.get("properties"):
        nested = params.get(name)
        if name in params:
            used.add(name)
        inner = _object(prop, nested if isinstance(nested, Mapping) else {}, variables, set())
        return bool(inner) or name in params, inner
    if name in params:
        used.add(name)
        return True, params[name]
    return False, None


def _header(
    name: str,
    value: Any,
    variables: Mapping[str, Any],
    secret: Callable[[str], str | None],
    env: Mapping[str, str],
) -> str:
    if isinstance(value, str):
        return fill(value, variables)
    if isinstance(value, Mapping):
        if "secret_id" in value:
            found = secret(str(value["secret_id"]))
            if found is None:
                raise WebhookConfigError(f"header {name}: unknown secret {value['secret_id']!r}")
            return found
        if "variable_name" in value:
            return str(variables.get(str(value["variable_name"]), ""))
        if "env_var_label" in value:
            label = str(value["env_var_label"])
            if label not in env:
                raise WebhookConfigError(f"header {name}: unknown environment variable {label!r}")
            return env[label]
    raise WebhookConfigError(f"header {name}: unsupported value")


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
