"""Twilio's Voice REST API, the part the gateway calls: create, update, fetch a call.

Why a real HTTP server: the gateway places and steers calls through the twilio SDK,
so the stand-in must accept what the SDK sends (form-encoded bodies, repeated
``StatusCallbackEvent``, HTTP Basic auth with AccountSid:AuthToken) and answer what
the SDK parses (the Call resource JSON; errors as ``{"code", "message",
"more_info", "status"}``, which become ``TwilioRestException``).

Routes (``{sid}`` is the account, ``{call}`` the call SID):

- ``POST /2010-04-01/Accounts/{sid}/Calls.json`` -> 201, the new call (``queued``)
- ``POST /2010-04-01/Accounts/{sid}/Calls/{call}.json`` -> 200, the updated call
- ``GET  /2010-04-01/Accounts/{sid}/Calls/{call}.json`` -> 200, the call
- ``POST /2010-04-01/Accounts/{sid}/Messages.json`` -> 201, the new message
- ``GET  /2010-04-01/Accounts/{sid}/Messages/{msg}.json`` -> 200, the message
- ``POST /v1/Content`` -> 201 and ``GET /v1/Content/{HX}`` -> 200 (the Content API,
  ``content.twilio.com`` at Twilio: JSON in, JSON out)

Several accounts may be served (a platform's own and its customers'), each with its
own auth token (:meth:`TwilioRestApi.add_account`).

aiohttp, because it embeds in a running loop with no signal handling of its own.
What a call does is decided by the :class:`CallBackend` (the stand-in facade).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any, Protocol

from aiohttp import web

from gateway.standins.twilio_resources import API_VERSION, TwilioApiError

Form = Mapping[str, list[str]]


class CallBackend(Protocol):
    def create_call(self, form: Form) -> dict[str, Any]: ...

    def update_call(self, call_sid: str, form: Form) -> dict[str, Any]: ...

    def fetch_call(self, call_sid: str) -> dict[str, Any]: ...


class MessageBackend(Protocol):
    def create_message(self, account_sid: str, form: Form) -> dict[str, Any]: ...

    def fetch_message(self, account_sid: str, sid: str) -> dict[str, Any]: ...

    def create_content(self, account_sid: str, data: Mapping[str, Any]) -> dict[str, Any]: ...

    def fetch_content(self, account_sid: str, sid: str) -> dict[str, Any]: ...


class TwilioRestApi:
    """Serves the Calls resource on ``http://host:port``."""

    def __init__(
        self,
        backend: CallBackend,
        account_sid: str,
        auth_token: str,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._backend = backend
        self._messages: MessageBackend | None = None
        self.tokens: dict[str, str] = {account_sid: auth_token}
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.requests: list[tuple[str, str, int]] = []

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._errors])
        base = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(f"{base}/Calls.json", self._create)
        app.router.add_post(f"{base}/Calls/{{call}}.json", self._update)
        app.router.add_get(f"{base}/Calls/{{call}}.json", self._fetch)
        app.router.add_post(f"{base}/Messages.json", self._create_message)
        app.router.add_get(f"{base}/Messages/{{message}}.json", self._fetch_message)
        app.router.add_post("/v1/Content", self._create_content)
        app.router.add_get("/v1/Content/{content}", self._fetch_content)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])

    def add_account(self, account_sid: str, auth_token: str) -> None:
        """Serve another Twilio account (e.g. an organization's own)."""
        self.tokens[account_sid] = auth_token

    def serve_messages(self, backend: MessageBackend) -> None:
        self._messages = backend

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- plumbing -------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except TwilioApiError as exc:
            response = web.json_response(exc.body(), status=exc.status)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        except web.HTTPNotFound:
            error = TwilioApiError(
                404, 20404, f"The requested resource {request.path} was not found"
            )
            response = web.json_response(error.body(), status=404)
        except web.HTTPMethodNotAllowed:
            error = TwilioApiError(405, 20004, "Method not allowed")
            response = web.json_response(error.body(), status=405)
        self.requests.append((request.method, request.path, response.status))
        return response

    def _authenticate(self, request: web.Request) -> str:
        """The account SID the request authenticates as (HTTP Basic SID:token)."""
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        token = self.tokens.get(user, "")
        good = (
            scheme.lower() == "basic"
            and bool(token)
            and hmac.compare_digest(password, token)
            and request.match_info.get("account", user) == user
        )
        if not good:
            raise TwilioApiError(401, 20003, "Authenticate")
        return user

    def _messaging(self) -> MessageBackend:
        if self._messages is None:
            raise TwilioApiError(404, 20404, "Messaging is not served by this stand-in")
        return self._messages

    @staticmethod
    async def _form(request: web.Request) -> dict[str, list[str]]:
        data = await request.post()
        form: dict[str, list[str]] = {}
        for key, value in data.items():
            if isinstance(value, str):
                form.setdefault(key, []).append(value)
        return form

    # --- routes ---------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        self._authenticate(request)
        body = self._backend.create_call(await self._form(request))
        return web.json_response(body, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        self._authenticate(request)
        form = await self._form(request)
        return web.json_response(self._backend.update_call(request.match_info["call"], form))

    async def _fetch(self, request: web.Request) -> web.Response:
        self._authenticate(request)
        return web.json_response(self._backend.fetch_call(request.match_info["call"]))

    async def _create_message(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        body = self._messaging().create_message(account, await self._form(request))
        return web.json_response(body, status=201)

    async def _fetch_message(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        found = self._messaging().fetch_message(account, request.match_info["message"])
        return web.json_response(found)

    async def _create_content(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        if request.content_type == "application/json":
            try:
                data = await request.json()
            except ValueError:
                raise TwilioApiError(400, 20001, "The request body is not valid JSON") from None
        else:
            data = {k: v[-1] for k, v in (await self._form(request)).items()}
        if not isinstance(data, dict):
            raise TwilioApiError(400, 20001, "The request body must be a JSON object")
        return web.json_response(self._messaging().create_content(account, data), status=201)

    async def _fetch_content(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        found = self._messaging().fetch_content(account, request.match_info["content"])
        return web.json_response(found)
