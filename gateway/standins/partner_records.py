"""A partner's system of record on loopback, speaking parley's partner API.

What parley's remote adapter meets in production, built from docs/partner-api.md:
every request's HMAC signature and timestamp window are checked (``401``
otherwise), every ``POST`` needs an ``Idempotency-Key`` and a repeat gets the first
answer without acting again, and every request is recorded. The accounts live in a
:class:`~gateway.standins.partner_accounts.PartnerLedger`.

Knobs, for the ways a real partner misbehaves:

- ``latency_s``: answer that much later, *after* doing the work (a late success);
  ``write_latency_s`` the same for ``POST``s only (reads stay quick);
- ``fail_next``: answer ``500`` to that many requests, then normally; with
  ``fail_after_work`` the work is done before the ``500`` (a crash after commit);
- ``always_fail``: answer ``500`` to everything;
- ``garble_next``: answer that many requests ``200`` with a body that is not the
  documented one;
- ``fail_route``: when set, the failures above hit only requests whose path ends
  with it (``/promises``), and the rest are answered normally;
- ``ledger.refuse_promises``: refuse every promise with that reason;
- :meth:`PartnerRecords.go_down` / :meth:`come_back`: close the port, reopen it.

aiohttp, like the Twilio stand-in, because it embeds in a running loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from gateway.standins.partner_accounts import (
    Answer,
    BadRequest,
    PartnerAccount,
    PartnerLedger,
)

WINDOW_S = 300
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Set by a handler that did the work (not a replayed answer), read by the middleware:
#: both run in the request's own task.
_ACTED: contextvars.ContextVar[bool] = contextvars.ContextVar("partner_acted", default=False)

AccountWrite = Callable[[PartnerLedger, PartnerAccount, dict[str, Any]], Answer]
WRITES: dict[str, AccountWrite] = {
    "promises": PartnerLedger.promise,
    "callbacks": PartnerLedger.callback,
    "disputes": PartnerLedger.dispute,
    "hardships": PartnerLedger.hardship,
    "opt-outs": PartnerLedger.opt_out,
    "escalations": PartnerLedger.escalation,
    "phones": PartnerLedger.phone,
    "wrong-party": PartnerLedger.wrong_party,
    "channel-preference": PartnerLedger.channel,
}


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the partner saw it, and what it answered."""

    method: str
    target: str  # path and query as sent
    headers: dict[str, str]
    body: bytes
    status: int
    #: Whether the work was done by this request (False for a replayed idempotent answer).
    acted: bool

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


class PartnerRecords:
    """The partner API at :attr:`url` (``http://127.0.0.1:<port>/partner``)."""

    def __init__(
        self,
        secret: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "/partner",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.ledger = PartnerLedger()
        self.requests: list[RecordedRequest] = []
        self.clock = clock
        self.latency_s = 0.0
        self.write_latency_s = 0.0
        self.garble_next = 0
        self.fail_route: str | None = None
        self.fail_next = 0
        self.fail_after_work = False
        self.always_fail = False
        self._host = host
        self._port = port
        self._prefix = prefix.rstrip("/")
        self._runner: web.AppRunner | None = None
        self._stored: dict[str, tuple[str, Answer]] = {}

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}{self._prefix}"

    def add_account(self, account: PartnerAccount) -> PartnerAccount:
        return self.ledger.add(account)

    def account(self, ref: str) -> PartnerAccount:
        return self.ledger.accounts[ref]

    def acted(self, route_suffix: str) -> list[RecordedRequest]:
        """Requests whose target ends with ``route_suffix`` and that did the work."""
        return [
            r for r in self.requests if r.acted and r.target.split("?")[0].endswith(route_suffix)
        ]

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=1 << 20)
        p = self._prefix
        app.router.add_get(f"{p}/accounts", self._by_phone)
        app.router.add_get(f"{p}/accounts/{{ref}}", self._subject)
        app.router.add_get(f"{p}/accounts/{{ref}}/balance", self._balance)
        app.router.add_post(f"{p}/accounts/{{ref}}/identity-checks", self._identity)
        app.router.add_post(f"{p}/accounts/{{ref}}/{{action}}", self._write)
        app.router.add_post(f"{p}/calls/{{call_sid}}/{{what}}", self._call)
        # A slow answer still sleeping must not hold up a test's shutdown.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def go_down(self) -> None:
        """Close the port: connections are refused until :meth:`come_back`."""
        await self.stop()

    async def come_back(self) -> None:
        await self.start()

    # --- plumbing ---------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.read()
        acted = False
        try:
            self._authenticate(request, body)
            targeted = self.fail_route is None or request.path.endswith(self.fail_route)
            if targeted and (self.always_fail or (self.fail_next and not self.fail_after_work)):
                self.fail_next = max(0, self.fail_next - 1)
                response: web.StreamResponse = _json(500, {"error": "partner failure"})
            elif targeted and self.garble_next:
                self.garble_next -= 1
                response = _json(200, {"unexpected": True})
            else:
                _ACTED.set(False)
                response = await handler(request)
                acted = _ACTED.get()
                if targeted and self.fail_next and self.fail_after_work:
                    self.fail_next -= 1
                    response = _json(500, {"error": "partner failure after the work"})
        except _Refusal as exc:
            response = _json(exc.status, {"error": exc.message})
        except web.HTTPException as exc:
            response = _json(exc.status, {"error": exc.reason})
        self.requests.append(
            RecordedRequest(
                request.method,
                request.raw_path,
                dict(request.headers.items()),
                body,
                response.status,
                acted,
            )
        )
        delay = self.latency_s + (self.write_latency_s if request.method == "POST" else 0.0)
        if delay:
            await asyncio.sleep(delay)
        return response

    def _authenticate(self, request: web.Request, body: bytes) -> None:
        timestamp = request.headers.get("X-Parley-Timestamp", "")
        given = request.headers.get("X-Parley-Signature", "")
        message = f"{timestamp}\n{request.method}\n{request.raw_path}\n".encode() + body
        expected = "v1=" + hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            raise _Refusal(401, "bad signature")
        try:
            skew = abs(self.clock() - int(timestamp))
        except ValueError:
            raise _Refusal(401, "bad timestamp") from None
        if skew > WINDOW_S:
            raise _Refusal(401, "stale timestamp")

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()  # read once by the middleware; aiohttp keeps it
        try:
            value = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise _Refusal(400, "the body is not JSON") from None
        if not isinstance(value, dict):
            raise _Refusal(400, "the body must be a JSON object")
        return value

    def _found(self, request: web.Request) -> PartnerAccount:
        account = self.ledger.account(request.match_info["ref"])
        if account is None:
            raise _Refusal(404, "account not found")
        return account

    async def _once(self, request: web.Request, work: Callable[[], Answer]) -> web.Response:
        """Run a write at most once per Idempotency-Key; a repeat gets the stored answer."""
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if not key:
            raise _Refusal(400, "Idempotency-Key is required on every POST")
        fingerprint = hashlib.sha256(
            request.method.encode() + request.path.encode() + await request.read()
        ).hexdigest()
        stored = self._stored.get(key)
        if stored is not None:
            if stored[0] != fingerprint:
                raise _Refusal(422, "idempotency key reused with a different body")
            return _json(*stored[1])
        try:
            answer = work()
        except BadRequest as exc:
            raise _Refusal(400, str(exc)) from None
        self._stored[key] = (fingerprint, answer)
        _ACTED.set(True)
        return _json(*answer)

    # --- routes -----------------------------------------------------------------------

    async def _by_phone(self, request: web.Request) -> web.Response:
        phone = request.query.get("phone", "")
        return _json(200, {"accounts": self.ledger.by_phone(phone)})

    async def _subject(self, request: web.Request) -> web.Response:
        return _json(200, self._found(request).subject())

    async def _balance(self, request: web.Request) -> web.Response:
        return _json(200, self._found(request).balance())

    async def _identity(self, request: web.Request) -> web.Response:
        account = self._found(request)
        try:
            return _json(*self.ledger.identity(account, await self._body(request)))
        except BadRequest as exc:
            raise _Refusal(400, str(exc)) from None

    async def _write(self, request: web.Request) -> web.Response:
        write = WRITES.get(request.match_info["action"])
        if write is None:
            raise _Refusal(404, "no such route")
        account = self._found(request)
        body = await self._body(request)
        return await self._once(request, lambda: write(self.ledger, account, body))

    async def _call(self, request: web.Request) -> web.Response:
        what = request.match_info["what"]
        call_sid = request.match_info["call_sid"]
        body = await self._body(request)
        if what == "started":
            return await self._once(request, lambda: self.ledger.call_started(call_sid, body))
        if what == "outcome":
            return await self._once(request, lambda: self.ledger.call_outcome(call_sid, body))
        raise _Refusal(404, "no such route")


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
