"""The Live Calls pages: sign-in, the organization's active calls, one call's view.

Plain HTML filled in on the server (a few escaped values), with the live parts done
by the scripts in ``static/`` over ``WS /live`` and the operator API; no build step.
Every page checks who asks (API key or session, see :mod:`backoffice.api.session`);
a browser without a session is sent to the sign-in page. A call of another
organization is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from string import Template

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from backoffice.api.auth import principal_of
from backoffice.api.session import (
    clear_session_cookie,
    end_session,
    session_of,
    set_session_cookie,
    signer_for,
)
from backoffice.orgs.service import Principal, authenticate
from backoffice.store.db import Database
from gateway.calls import CallRecord
from gateway.services import Services

log = structlog.get_logger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
HOME = "/live/calls"
SIGN_IN = "/live/sign-in"
# Scripts and styles come from this server only; nothing inline, nothing framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@functools.cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def _fill(name: str, **values: str) -> str:
    """The template with every value HTML-escaped (fragments go in already filled)."""
    return _template(name).substitute({k: html.escape(v) for k, v in values.items()})


def _page(name: str, parts: dict[str, str], status: int = 200) -> HTMLResponse:
    body = _template(name).substitute(parts)
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def _secure(request: Request) -> bool:
    services: Services = request.app.state.services
    return services.settings.public_url.startswith("https://")


def _safe_next(value: str) -> str:
    """Only our own pages may be the target after sign-in (no open redirect)."""
    if value.startswith("/live/") and not value.startswith("//") and "\\" not in value:
        return value
    return HOME


def _chrome(request: Request, principal: Principal) -> dict[str, str]:
    session = session_of(request)
    csrf = session.csrf if session is not None else ""
    header = _fill("header.html", org_id=principal.org_id, role=principal.role, csrf=csrf)
    return {"header": header, "csrf": html.escape(csrf), "role": html.escape(principal.role)}


async def _principal_or_redirect(request: Request) -> Principal | Response:
    principal = await principal_of(request, _database(request))
    if principal is None:
        target = request.url.path
        return RedirectResponse(f"{SIGN_IN}?next={target}", status_code=303)
    return principal


async def find_call(services: Services, org_id: str, ref: str) -> CallRecord | None:
    """The organization's call by reference or call SID; None for anyone else's."""
    record = await services.calls.by_ref(ref) or await services.calls.by_sid(ref)
    if record is None or record.org_id != org_id:
        return None
    return record


# ------------------------------------------------------------------- sign-in / out
async def home(request: Request) -> Response:
    return RedirectResponse(HOME, status_code=303)


async def sign_in_form(request: Request) -> Response:
    nxt = _safe_next(request.query_params.get("next", ""))
    return _page("sign_in.html", {"error": "", "next": html.escape(nxt)})


async def sign_in(request: Request) -> Response:
    form = await request.form()
    key = str(form.get("api_key", "")).strip()
    nxt = _safe_next(str(form.get("next", "")))
    principal = None
    if key:
        async with _database(request).read() as read:
            principal = await authenticate(read, key)
    if principal is None:
        log.info("live.sign_in_refused", key_present=bool(key))
        reason = "unknown, mistyped or revoked" if key else "required"
        error = f'<p class="error" role="alert">The API key is {reason}.</p>'
        return _page("sign_in.html", {"error": error, "next": html.escape(nxt)}, status=401)
    token, _ = signer_for(request).issue(principal)
    response = RedirectResponse(nxt, status_code=303)
    set_session_cookie(response, token, secure=_secure(request))
    log.info("live.signed_in", org_id=principal.org_id, key_id=principal.key_id)
    return response


async def sign_out(request: Request) -> Response:
    form = await request.form()
    session = session_of(request)
    if session is not None and str(form.get("csrf", "")) != session.csrf:
        return Response("the sign-out form is out of date; reload the page", status_code=403)
    if session is not None:
        await end_session(_database(request), session)
        log.info("live.signed_out", org_id=session.org_id, key_id=session.key_id)
    response = RedirectResponse(SIGN_IN, status_code=303)
    clear_session_cookie(response, secure=_secure(request))
    return response


# ------------------------------------------------------------------------- pages
async def calls_page(request: Request) -> Response:
    principal = await _principal_or_redirect(request)
    if isinstance(principal, Response):
        return principal
    start = _template("start_call.html").template if principal.allows("operator") else ""
    return _page("calls.html", {"start_call": start, **_chrome(request, principal)})


async def call_page(request: Request) -> Response:
    principal = await _principal_or_redirect(request)
    if isinstance(principal, Response):
        return principal
    services: Services = request.app.state.services
    chrome = _chrome(request, principal)
    record = await find_call(services, principal.org_id, request.path_params["ref"])
    if record is None:
        return _page("not_found.html", {"header": chrome["header"]}, status=404)
    step_in = _template("step_in.html").template if principal.allows("operator") else ""
    return _page(
        "call.html",
        {
            "call_sid": html.escape(record.call_sid),
            "call_ref": html.escape(record.call_ref),
            "step_in": step_in,
            **chrome,
        },
    )
