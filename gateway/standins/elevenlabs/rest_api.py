"""The stand-in's REST API: a route table, the ``xi-api-key`` check, FastAPI-style errors.

Why one router for every plain-HTTP request: the service answers each route with the
same conventions (``xi-api-key`` header, JSON bodies, ``{"detail": ...}`` errors, 422
with a list of ``loc``/``msg`` items for invalid input), and a test wants one list of
refusals to assert on. Route handlers live in a module per concept
(``rest_agents``, ``rest_conversations``, ``rest_workspace``) and raise
:class:`RestError`; they never see the socket.

Routes served (paths as the ``elevenlabs`` SDK 2.78 sends them):

===========================================  ==========================================
``GET  /v1/convai/conversation/get-signed-url``  signed URL (also the ``_`` alias)
``POST /v1/convai/agents/create``              create an agent -> ``{agent_id}``
``GET  /v1/convai/agents``                     list (``page_size``, ``cursor``, ``search``)
``GET|PATCH|DELETE /v1/convai/agents/{id}``    read, partial update, delete
``GET  /v1/convai/conversations``              list (``agent_id``, ``page_size``, ``cursor``)
``GET  /v1/convai/conversations/{id}``         the conversation (transcript, analysis...)
``GET|POST /v1/convai/secrets``, ``GET|PATCH|DELETE /v1/convai/secrets/{id}``  workspace secrets
``GET|POST /v1/workspace/webhooks``, ``PATCH|DELETE /v1/workspace/webhooks/{id}``  HMAC webhooks
``GET|PATCH /v1/convai/settings``              workspace ConvAI settings (post-call webhook)
===========================================  ==========================================
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.standins.elevenlabs.http_front import RestRequest, RestResponse

Json = dict[str, Any]


class RestError(Exception):
    """An error answer: ``status`` with body ``{"detail": detail}``."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(detail if isinstance(detail, str) else orjson.dumps(detail).decode())
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request the stand-in answered with an error status."""

    path: str
    status: int
    reason: str


Handler = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    #: Counted under this name in :attr:`RestApi.hits` (e.g. ``signed_url``).
    name: str


def route(method: str, template: str, handler: Handler, name: str = "") -> Route:
    """A route; ``{param}`` in ``template`` matches one path segment."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, re.compile(f"^{regex}$"), handler, name or template)


def json_body(request: RestRequest) -> Any:
    """The request body as JSON; 422 when it is not JSON."""
    try:
        return orjson.loads(request.body or b"null")
    except orjson.JSONDecodeError as exc:
        raise RestError(
            422, [{"loc": ["body"], "msg": f"JSON decode error: {exc}", "type": "json_invalid"}]
        ) from None


def unprocessable(errors: list[Json]) -> RestError:
    return RestError(422, errors)


def int_param(request: RestRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise unprocessable(
            [
                {
                    "loc": ["query", name],
                    "msg": f"must be an integer from {low} to {high}",
                    "type": "value_error",
                }
            ]
        )
    return value


class RestApi:
    """``RestRequest -> RestResponse``; every route needs the workspace's API key."""

    def __init__(
        self, routes: list[Route], api_key: Callable[[], str], refusals: list[Refusal]
    ) -> None:
        self._routes = routes
        self._api_key = api_key
        self.refusals = refusals
        #: Requests answered (any status), by route name.
        self.hits: dict[str, int] = {}

    def __call__(self, request: RestRequest) -> RestResponse:
        try:
            handler, params, name = self._match(request)
            self.hits[name] = self.hits.get(name, 0) + 1
            self._authenticate(request)
            result = handler(request, **params)
        except RestError as exc:
            reason = (
                exc.detail if isinstance(exc.detail, str) else orjson.dumps(exc.detail).decode()
            )
            self.refusals.append(Refusal(request.path, exc.status, reason))
            return RestResponse.json(exc.status, {"detail": exc.detail})
        if isinstance(result, RestResponse):
            return result
        return RestResponse.json(200, result)

    def _match(self, request: RestRequest) -> tuple[Handler, dict[str, str], str]:
        allowed = False
        for candidate in self._routes:
            found = candidate.pattern.match(request.path)
            if found is None:
                continue
            if candidate.method == request.method:
                return candidate.handler, found.groupdict(), candidate.name
            allowed = True
        if allowed:
            raise RestError(405, "Method Not Allowed")
        raise RestError(404, "Not Found")

    def _authenticate(self, request: RestRequest) -> None:
        key = request.headers.get("xi-api-key")
        if not key:
            raise RestError(
                401, {"status": "needs_authorization", "message": "Missing xi-api-key header"}
            )
        if key != self._api_key():
            raise RestError(401, {"status": "invalid_api_key", "message": "Invalid API key"})
