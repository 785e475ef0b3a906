"""Declared endpoints: from one declaration come the route, its checks and its OpenAPI.

Every endpoint states the least role it needs, its query and body models and its
response model. The wrapper does, in order: authenticate the key (401), check the
role (403), parse the path, query and body (422 naming each bad field), run the
handler, and render its result. Handlers never see another organization: the
:class:`Call` they get carries the caller's ``org_id``, and every repository function
takes it. Services raise :mod:`backoffice.errors`; each maps to one status here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backoffice.api.auth import principal_of
from backoffice.errors import BackofficeError, FieldError, InvalidInput, MalformedBody
from backoffice.orgs.service import Principal
from backoffice.store.db import Database

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler gets: the caller, the database and the parsed input."""

    request: Request
    principal: Principal
    db: Database
    path: dict[str, str]
    query: Any
    body: Any

    @property
    def org_id(self) -> str:
        return self.principal.org_id

    @property
    def actor(self) -> str:
        return self.principal.actor


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    role: str
    summary: str
    tag: str
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    raw_body: str | None  # media type of a non-JSON body (a file upload), if any


def error_response(status: int, message: str, errors: list[FieldError] | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if errors:
        body["errors"] = [{"field": e.field, "reason": e.reason} for e in errors]
    return JSONResponse(body, status_code=status)


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    return [
        FieldError(
            prefix + (".".join(str(p) for p in err["loc"]) or "body"),
            err["msg"].removeprefix("Value error, "),
        )
        for err in exc.errors()
    ]


def render(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    content: Any
    if isinstance(result, BaseModel):
        content = result.model_dump(mode="json")
    elif isinstance(result, list):
        content = [r.model_dump(mode="json") if isinstance(r, BaseModel) else r for r in result]
    else:
        content = result
    return Response(
        orjson.dumps(content, default=str), status_code=status, media_type="application/json"
    )


class Api:
    """A list of endpoints; :meth:`routes` gives them to Starlette."""

    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        role: str,
        summary: str,
        tag: str,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        raw_body: str | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method,
                    path,
                    handler,
                    role,
                    summary,
                    tag,
                    query,
                    body,
                    response,
                    status,
                    raw_body,
                )
            )
            return handler

        return register

    def routes(self, database: Callable[[Request], Database]) -> list[Route]:
        return [
            Route(e.path, _wrap(e, database), methods=[e.method], name=e.handler.__name__)
            for e in self.endpoints
        ]


def _wrap(
    endpoint: Endpoint, database: Callable[[Request], Database]
) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        db = database(request)
        principal = await principal_of(request, db)
        if principal is None:
            return error_response(
                401, "a valid API key (or a signed-in session, with its X-CSRF-Token) is required"
            )
        if not principal.allows(endpoint.role):
            return error_response(
                403, f"the {principal.role} role may not do this (needs {endpoint.role})"
            )
        try:
            query = _parse_query(endpoint, request)
            body = await _parse_body(endpoint, request)
            call = Call(request, principal, db, dict(request.path_params), query, body)
            result = await endpoint.handler(call)
        except InvalidInput as exc:
            return error_response(exc.status, exc.message, exc.errors)
        except BackofficeError as exc:
            return error_response(exc.status, str(exc))
        return render(result, endpoint.status)

    return handle


def _parse_query(endpoint: Endpoint, request: Request) -> Any:
    if endpoint.query is None:
        return None
    try:
        return endpoint.query.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc), "invalid query parameters") from None


async def _parse_body(endpoint: Endpoint, request: Request) -> Any:
    if endpoint.body is None:
        return None
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise MalformedBody([FieldError("body", "not valid JSON")], "invalid body") from None
    try:
        return endpoint.body.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc), "invalid body") from None
