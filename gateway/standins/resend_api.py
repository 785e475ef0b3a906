"""A local stand-in for Resend: the Emails and Domains API, and its signed event webhooks.

Why: parley sends email and registers domains through the resend SDK, and learns
each email's fate from Resend's webhooks, signed Svix-style. This server accepts what
the SDK sends (JSON, ``Authorization: Bearer re_...``, ``Idempotency-Key``), answers
what it parses (``{"id": ...}``, the Domain object, errors as ``{"statusCode",
"name", "message"}``), refuses to send from a domain that is not verified, and posts
each email's events (``email.sent``, ``email.delivered`` or ``email.bounced``,
``email.opened``) to the team's webhook endpoints, signed with the svix library
(reference ``twilio-resend.md`` §6).

Simplification: DNS is a set of names (:attr:`ResendStandIn.dns_ready`, or
``auto_dns``); ``verify`` settles a domain at once (``verified`` when its records are
"in place", ``failed`` otherwise) and posts ``domain.updated``.

Test-facing API::

    resend = ResendStandIn({"re_managed": "parley"}, url_map=[(public, local)])
    await resend.start()                        # resend.url stands for api.resend.com
    resend.webhooks["parley"] = [(url, "whsec_...")]
    resend.mailboxes["ana@example.org"] = Mailbox(outcome="bounced")
    email = await resend.wait_for_email()
    await resend.send_event(email.id, "email.delivered")
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from aiohttp import web
from svix.webhooks import Webhook

from gateway.standins.twilio_signing import UrlMap
from gateway.standins.waiting import poll_until

_ADDRESS = re.compile(r"^(?:[^<>]*<)?\s*([^<>@\s]+@([^<>@\s]+?))\s*>?$")
REGIONS = ("us-east-1", "eu-west-1", "sa-east-1", "ap-northeast-1")


class ResendApiError(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message

    def body(self) -> dict[str, Any]:
        return {"statusCode": self.status, "name": self.name, "message": self.message}


@dataclass(slots=True)
class Mailbox:
    """How a recipient's mail server and reader behave."""

    outcome: str = "delivered"  # delivered | bounced
    bounce_type: str = "Permanent"
    opens: bool = False
    delay_s: float = 0.05


@dataclass(slots=True)
class EventPost:
    type: str
    url: str
    svix_id: str
    payload: str
    status: int | None = None
    error: str | None = None


@dataclass(slots=True)
class EmailRecord:
    id: str
    team: str
    params: dict[str, Any]
    headers: dict[str, str]
    created_at: str
    last_event: str = "email.sent"
    events: list[EventPost] = field(default_factory=list)

    @property
    def to(self) -> list[str]:
        to = self.params.get("to")
        return [to] if isinstance(to, str) else list(to or [])


@dataclass(slots=True)
class DomainRecord:
    id: str
    team: str
    name: str
    region: str
    status: str = "not_started"
    created_at: str = field(default_factory=lambda: _now())

    def records(self) -> list[dict[str, Any]]:
        state = "verified" if self.status == "verified" else self.status
        zone = self.name.split(".", 1)[1] if self.name.count(".") >= 2 else self.name
        sub = self.name[: -len(zone) - 1] if zone != self.name else ""
        send = f"send.{sub}" if sub else "send"
        dkim = f"resend._domainkey.{sub}" if sub else "resend._domainkey"
        return [
            {"record": "SPF", "name": send, "type": "MX", "ttl": "Auto", "status": state,
             "value": f"feedback-smtp.{self.region}.amazonses.com", "priority": 10},
            {"record": "SPF", "name": send, "type": "TXT", "ttl": "Auto", "status": state,
             "value": "v=spf1 include:amazonses.com ~all"},
            {"record": "DKIM", "name": dkim, "type": "TXT", "ttl": "Auto", "status": state,
             "value": "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ" + self.id.replace("-", "")[:24]},
        ]  # fmt: skip

    def json(self) -> dict[str, Any]:
        return {
            "object": "domain",
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "created_at": self.created_at,
            "region": self.region,
            "records": self.records(),
        }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ResendStandIn:
    """Serves ``http://host:port`` for the resend SDK (``RESEND_API_URL``)."""

    def __init__(
        self,
        api_keys: Mapping[str, str],
        *,
        url_map: Sequence[tuple[str, str]] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        auto_dns: bool = True,
    ) -> None:
        self.api_keys = dict(api_keys)  # API key -> team
        self.url_map = UrlMap(tuple(url_map))
        self.webhooks: dict[str, list[tuple[str, str]]] = {}  # team -> [(url, secret)]
        self.mailboxes: dict[str, Mailbox] = {}
        self.default_mailbox = Mailbox()
        self.dns_ready: set[str] = set()
        self.auto_dns = auto_dns
        self.emails: dict[str, EmailRecord] = {}
        self.domains: dict[str, DomainRecord] = {}
        self.requests: list[tuple[str, str, int]] = []
        self._idempotent: dict[tuple[str, str], tuple[bytes, dict[str, Any]]] = {}
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._errors])
        app.router.add_post("/emails", self._send)
        app.router.add_get("/emails/{id}", self._get_email)
        app.router.add_post("/domains", self._create_domain)
        app.router.add_get("/domains", self._list_domains)
        app.router.add_get("/domains/{id}", self._get_domain)
        app.router.add_post("/domains/{id}/verify", self._verify_domain)
        self._http = httpx.AsyncClient(timeout=10)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> ResendStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- test-facing ------------------------------------------------------------------

    async def wait_for_email(self, index: int = 0, timeout_s: float = 10.0) -> EmailRecord:
        await poll_until(lambda: len(self.emails) > index, timeout_s)
        return list(self.emails.values())[index]

    async def idle(self, timeout_s: float = 10.0) -> None:
        await poll_until(lambda: not self._tasks, timeout_s)

    async def send_event(
        self,
        email_id: str,
        event_type: str,
        *,
        svix_id: str | None = None,
        timestamp: dt.datetime | None = None,
        **extra: Any,
    ) -> list[EventPost]:
        """Post one event about an email to its team's endpoints, signed (``timestamp``
        lets a test send a stale one; ``svix_id`` a replay)."""
        email = self.emails[email_id]
        data: dict[str, Any] = {
            "email_id": email.id,
            "created_at": email.created_at,
            "from": email.params.get("from"),
            "to": email.to,
            "subject": email.params.get("subject"),
            "tags": {t["name"]: t["value"] for t in email.params.get("tags") or []},
            **extra,
        }
        posts = await self.post_event(email.team, event_type, data, svix_id, timestamp)
        email.events += posts
        email.last_event = event_type
        return posts

    async def deliver_inbound(
        self, team: str, from_: str, to: str, subject: str, text: str = ""
    ) -> list[EventPost]:
        """A person writes to ``to`` (a receiving address of the team): ``email.received``."""
        data = {
            "email_id": str(uuid.uuid4()),
            "created_at": _now(),
            "from": from_,
            "to": [to],
            "subject": subject,
            "text": text,
        }
        return await self.post_event(team, "email.received", data)

    async def post_event(
        self,
        team: str,
        event_type: str,
        data: dict[str, Any],
        svix_id: str | None = None,
        timestamp: dt.datetime | None = None,
    ) -> list[EventPost]:
        payload = orjson.dumps({"type": event_type, "created_at": _now(), "data": data}).decode()
        moment = timestamp or dt.datetime.now(dt.UTC)
        posts = []
        for url, secret in self.webhooks.get(team, []):
            message_id = svix_id or f"msg_{secrets.token_hex(12)}"
            post = EventPost(event_type, url, message_id, payload)
            headers = {
                "svix-id": message_id,
                "svix-timestamp": str(int(moment.timestamp())),
                "svix-signature": Webhook(secret).sign(message_id, moment, payload),
                "content-type": "application/json",
                "user-agent": "Svix-Webhooks/1.0",
            }
            assert self._http is not None, "ResendStandIn is not started"
            try:
                response = await self._http.post(
                    self.url_map.map(url), content=payload, headers=headers
                )
                post.status = response.status_code
            except httpx.HTTPError as exc:
                post.error = f"{type(exc).__name__}: {exc}"
            posts.append(post)
        return posts

    # --- plumbing ---------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except ResendApiError as exc:
            response = web.json_response(exc.body(), status=exc.status)
        except web.HTTPNotFound:
            error = ResendApiError(404, "not_found", "The requested endpoint does not exist.")
            response = web.json_response(error.body(), status=404)
        self.requests.append((request.method, request.path, response.status))
        return response

    def _team(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            raise ResendApiError(
                401, "missing_api_key", "Missing API key in the authorization header."
            )
        team = self.api_keys.get(header[7:].strip())
        if team is None:
            raise ResendApiError(403, "invalid_api_key", "API key is invalid")
        return team

    @staticmethod
    async def _json(request: web.Request) -> tuple[bytes, dict[str, Any]]:
        raw = await request.read()
        try:
            data = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError:
            raise ResendApiError(422, "validation_error", "Invalid JSON body") from None
        if not isinstance(data, dict):
            raise ResendApiError(422, "validation_error", "The body must be a JSON object")
        return raw, data

    # --- emails -----------------------------------------------------------------------

    async def _send(self, request: web.Request) -> web.Response:
        team = self._team(request)
        raw, params = await self._json(request)
        key = request.headers.get("Idempotency-Key")
        if key:
            seen = self._idempotent.get((team, key))
            if seen is not None:
                if seen[0] != raw:
                    raise ResendApiError(
                        409,
                        "invalid_idempotent_request",
                        "Same idempotency key used with a different request payload.",
                    )
                return web.json_response(seen[1])
        for name in ("from", "to", "subject"):
            if not params.get(name):
                raise ResendApiError(422, "missing_required_field", f"Missing `{name}` field.")
        if not params.get("html") and not params.get("text") and not params.get("template"):
            raise ResendApiError(422, "missing_required_field", "Missing `html` or `text` field.")
        match = _ADDRESS.match(str(params["from"]))
        if match is None:
            raise ResendApiError(422, "validation_error", "Invalid `from` field.")
        domain = match.group(2).lower()
        if not any(d.team == team and d.name == domain and d.status == "verified"
                   for d in self.domains.values()):  # fmt: skip
            raise ResendApiError(
                403,
                "validation_error",
                f"The {domain} domain is not verified. Please, add and verify your domain.",
            )
        email = EmailRecord(
            id=str(uuid.uuid4()),
            team=team,
            params=params,
            headers=dict(request.headers),
            created_at=_now(),
        )
        self.emails[email.id] = email
        answer = {"id": email.id}
        if key:
            self._idempotent[(team, key)] = (raw, answer)
        self._launch(self._play(email))
        return web.json_response(answer)

    async def _get_email(self, request: web.Request) -> web.Response:
        team = self._team(request)
        email = self.emails.get(request.match_info["id"])
        if email is None or email.team != team:
            raise ResendApiError(404, "not_found", "Email not found")
        return web.json_response(
            {
                "object": "email",
                "id": email.id,
                "to": email.to,
                "from": email.params.get("from"),
                "created_at": email.created_at,
                "subject": email.params.get("subject"),
                "html": email.params.get("html"),
                "text": email.params.get("text"),
                "last_event": email.last_event.removeprefix("email."),
            }
        )

    async def _play(self, email: EmailRecord) -> None:
        box = self.mailboxes.get(email.to[0].lower(), self.default_mailbox) if email.to else None
        box = box or self.default_mailbox
        await asyncio.sleep(box.delay_s)
        await self.send_event(email.id, "email.sent")
        await asyncio.sleep(box.delay_s)
        if box.outcome == "bounced":
            bounce = {
                "type": box.bounce_type,
                "subType": "General",
                "message": "The recipient's mail server permanently rejected the email.",
                "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
            }
            await self.send_event(email.id, "email.bounced", bounce=bounce)
            return
        await self.send_event(email.id, "email.delivered")
        if box.opens:
            await asyncio.sleep(box.delay_s)
            await self.send_event(email.id, "email.opened")

    def _launch(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- domains ----------------------------------------------------------------------

    async def _create_domain(self, request: web.Request) -> web.Response:
        team = self._team(request)
        _, params = await self._json(request)
        name = str(params.get("name") or "").lower()
        if not name or "." not in name:
            raise ResendApiError(422, "validation_error", "Invalid `name` field.")
        region = str(params.get("region") or "us-east-1")
        if region not in REGIONS:
            raise ResendApiError(422, "validation_error", "Invalid `region` field.")
        if any(d.name == name for d in self.domains.values()):
            raise ResendApiError(
                403, "validation_error", f"The domain {name} is already registered."
            )
        domain = DomainRecord(str(uuid.uuid4()), team, name, region)
        self.domains[domain.id] = domain
        return web.json_response(domain.json(), status=201)

    def _domain(self, request: web.Request) -> DomainRecord:
        team = self._team(request)
        domain = self.domains.get(request.match_info["id"])
        if domain is None or domain.team != team:
            raise ResendApiError(404, "not_found", "Domain not found")
        return domain

    async def _get_domain(self, request: web.Request) -> web.Response:
        return web.json_response(self._domain(request).json())

    async def _list_domains(self, request: web.Request) -> web.Response:
        team = self._team(request)
        mine = [d.json() for d in self.domains.values() if d.team == team]
        return web.json_response({"object": "list", "has_more": False, "data": mine})

    async def _verify_domain(self, request: web.Request) -> web.Response:
        domain = self._domain(request)
        ready = self.auto_dns or domain.name in self.dns_ready
        domain.status = "verified" if ready else "failed"
        await self.post_event(domain.team, "domain.updated", domain.json())
        return web.json_response({"object": "domain", "id": domain.id})
