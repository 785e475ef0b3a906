"""What a partner's answer means for a call: data, a refusal, or a sentence to say.

:class:`PartnerActions` sits between :class:`~backoffice.calls.remote.RemoteRecords`
(the meaning of each action) and :class:`~backoffice.calls.remote_http.PartnerClient`
(signed, bounded HTTP). It owns the error semantics of docs/partner-api.md, in one
place: a read that cannot be answered raises ``RecordsUnavailable``; a write that
cannot be done returns an ``unavailable`` result whose message says why in words the
agent can use; a refusal keeps the partner's reason; a push never raises. Every
outcome is logged with the route's template and ids, never with a body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError
from structlog.typing import FilteringBoundLogger

from backoffice.calls.interface import RecordsUnavailable
from backoffice.calls.models import ActionResult, CallRef
from backoffice.calls.remote_http import PartnerClient, PartnerReply, PartnerUnavailable
from backoffice.calls.remote_wire import ActionWire
from backoffice.errors import NotFound

#: The partner did not answer in time (or at all): it may well have done nothing.
NOT_IN_TIME = (
    "The account system did not answer in time. Tell the caller you could not complete "
    "this right now and that it will be confirmed by message."
)
#: The partner answered but cannot take it (configuration, a request it rejects).
NOT_TAKEN = (
    "The account system could not take this right now. Tell the caller you could not "
    "complete it now and that a colleague will follow up."
)
REFUSED = "The account system did not accept this. Tell the caller a colleague will follow up."
MAX_MESSAGE = 500

W = TypeVar("W", bound=BaseModel)
PushOutcome = Literal["delivered", "refused", "failed"]
Done = Callable[[ActionWire], ActionResult]


def idempotency_key(org_id: str, call_sid: str, key: str, action: str) -> str:
    """The ``Idempotency-Key`` of one action: tool-call ids are unique only within a
    conversation, and one tool call may write more than one thing."""
    return hashlib.sha256(f"{org_id}:{call_sid}:{key}:{action}".encode()).hexdigest()


def account_path(ref: str) -> str:
    """``accounts/{ref}`` with the partner's id percent-encoded (it may hold ``/``)."""
    return f"accounts/{quote(ref, safe='')}"


def ids(call: CallRef | None) -> dict[str, Any]:
    """The ids a log line about a call carries."""
    if call is None:
        return {}
    return {"call_sid": call.call_sid, "account_id": call.account_ref}


class _Unusable(Exception):
    """A partner answer below 500 that is neither the documented success nor a refusal."""


class PartnerActions:
    def __init__(self, partner: PartnerClient, org_id: str, log: FilteringBoundLogger) -> None:
        self._partner = partner
        self._org_id = org_id
        self._log = log

    async def read(
        self,
        method: str,
        path: str,
        route: str,
        *,
        deadline: float,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        call: CallRef | None = None,
    ) -> PartnerReply:
        """A read's answer (2xx).

        Raises:
            NotFound: the partner has no such account (404).
            RecordsUnavailable: no usable answer before ``deadline``.
        """
        try:
            reply = await self._partner.send(
                method, path, route=route, deadline=deadline, params=params, body=body
            )
        except PartnerUnavailable as exc:
            self._unavailable(exc, route, call)
            raise RecordsUnavailable(f"{route}: {exc}") from exc
        if reply.status == 404:
            raise NotFound("account")
        if not reply.ok:
            self._log.error("partner.rejected", route=route, status=reply.status, **ids(call))
            raise RecordsUnavailable(f"{route}: answered {reply.status}")
        return reply

    def parse(self, model: type[W], reply: PartnerReply, route: str) -> W:
        """Raises: RecordsUnavailable (the answer is not the documented JSON)."""
        try:
            return model.model_validate(reply.body)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
            self._log.error("partner.bad_response", route=route, fields=fields[:10])
            raise RecordsUnavailable(f"{route}: not the documented answer") from None

    async def act(
        self,
        call: CallRef,
        ref: str,
        action: str,
        body: dict[str, Any],
        key: str,
        done: Done,
        deadline: float,
    ) -> ActionResult:
        """POST one write about account ``ref``; its answer as the agent's result.

        Raises:
            NotFound: the partner has no such account (404).
        """
        route = f"/accounts/{{ref}}/{action}"
        try:
            reply = await self._partner.send(
                "POST",
                f"{account_path(ref)}/{action}",
                route=route,
                deadline=deadline,
                body={**body, "call_sid": call.call_sid},
                idempotency_key=idempotency_key(self._org_id, call.call_sid, key, action),
            )
        except PartnerUnavailable as exc:
            self._unavailable(exc, route, call)
            return ActionResult.unavailable(NOT_IN_TIME if exc.transient else NOT_TAKEN)
        if reply.status == 404:
            raise NotFound("account")
        try:
            wire = _action_wire(reply)
        except _Unusable:
            self._log.error("partner.rejected", route=route, status=reply.status, **ids(call))
            return ActionResult.unavailable(NOT_TAKEN)
        if wire.status == "refused":
            reason = wire.reason or "refused"
            self._log.info("partner.refused", route=route, reason=reason, **ids(call))
            return ActionResult.refused(
                reason, (wire.message or REFUSED)[:MAX_MESSAGE], **wire.facts()
            )
        return done(wire)

    async def push(
        self, call: CallRef, what: str, body: dict[str, Any], action: str, deadline: float
    ) -> PushOutcome:
        """POST ``/calls/{call_sid}/{what}``; failures are logged and told, never raised.

        Returns ``delivered``; ``refused`` when the partner answered that it will not
        take it (below 500: sending it again would not help); ``failed`` when it did not
        answer usefully (down, slow, 5xx), which is worth another try later.
        """
        route = f"/calls/{{call_sid}}/{what}"
        if call.org_id != self._org_id:
            self._log.error("partner.push_other_org", route=route, call_sid=call.call_sid)
            return "refused"
        try:
            reply = await self._partner.send(
                "POST",
                f"calls/{quote(call.call_sid, safe='')}/{what}",
                route=route,
                deadline=deadline,
                body=body,
                idempotency_key=idempotency_key(self._org_id, call.call_sid, action, what),
            )
        except PartnerUnavailable as exc:
            self._log.warning("partner.push_failed", route=route, why=exc.why, **ids(call))
            return "failed"
        except Exception:  # a push must never break the call or the webhook behind it
            self._log.exception("partner.push_failed", route=route, **ids(call))
            return "failed"
        if reply.ok:
            return "delivered"
        self._log.warning("partner.push_failed", route=route, status=reply.status, **ids(call))
        return "failed" if reply.status >= 500 or reply.status == 429 else "refused"

    def _unavailable(self, exc: PartnerUnavailable, route: str, call: CallRef | None) -> None:
        event = "partner.unavailable" if exc.transient else "partner.failed"
        self._log.warning(event, route=route, why=exc.why, status=exc.status, **ids(call))


def _action_wire(reply: PartnerReply) -> ActionWire:
    try:
        wire = ActionWire.model_validate(reply.body)
    except ValidationError:
        raise _Unusable from None
    if wire.status == "refused" or reply.ok:
        return wire
    raise _Unusable
