"""The call interface on an organization's own system of record, over signed HTTP.

Theory of operation. Each method is one action of the partner API
(docs/partner-api.md) under one deadline (:data:`DEADLINE_S`, retries included),
short enough that the agent hears this module's fallback before the tool's own
timeout. How each kind of method fails:

- reads (``call_subject``, ``match_caller``, ``verify_identity``, ``balance``) raise
  :class:`~backoffice.calls.interface.RecordsUnavailable`; the tool layer speaks a
  fallback, and a failed identity check counts as no attempt;
- writes return ``ActionResult.unavailable`` with a sentence the agent can say;
  the partner's refusals come back as ``ActionResult.refused`` with its reason;
- ``opt_out`` is honoured by parley first (the dialled number on parley's own
  do-not-contact list, audited), then sent to the partner;
- ``call_started`` and ``record_outcome`` log their failures and never raise.

How a partner's answer becomes one of those is :mod:`backoffice.calls.remote_replies`;
the signed, retried HTTP is :mod:`backoffice.calls.remote_http`.

parley's own promise rules (:func:`~backoffice.calls.rules.check_promise`) run on the
partner's live balance before a promise is sent, so a debtor hears the same refusal
whichever system holds the account. Nothing here logs the secret, an identity answer,
a phone number in a query or a body.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import structlog

from backoffice import audit
from backoffice.accounts.status import allowed
from backoffice.calls import remote_outbox
from backoffice.calls.interface import RecordsUnavailable, SystemOfRecord
from backoffice.calls.models import (
    ActionResult,
    Balance,
    CallbackRequest,
    CallOutcome,
    CallRef,
    CallSubject,
    IdentityAnswer,
    OptOutScope,
    PromiseRequest,
)
from backoffice.calls.policy import RemoteRecordsConfig, policy_of
from backoffice.calls.records_config import load_signing_secret
from backoffice.calls.remote_http import PartnerClient, PartnerUnavailable
from backoffice.calls.remote_replies import (
    NOT_IN_TIME,
    PartnerActions,
    PushOutcome,
    account_path,
    ids,
)
from backoffice.calls.remote_wire import (
    ActionWire,
    BalanceWire,
    IdentityWire,
    MatchesWire,
    SubjectWire,
    money,
    outcome_body,
)
from backoffice.calls.rules import callback_words, check_promise
from backoffice.compliance import dnc_list
from backoffice.compliance.check import contact_zone
from backoffice.compliance.phones import InvalidPhone, to_e164
from backoffice.errors import NotFound
from backoffice.orgs.models import Organization
from backoffice.orgs.service import get_organization
from backoffice.store.db import Database
from backoffice.vault import Vault

log = structlog.get_logger(__name__)

#: The most one action may take, retries included: below every tool's timeout (5 s),
#: so the agent gets this module's sentence rather than a generic one.
DEADLINE_S = 4.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RemoteRecords:
    """One organization's system of record at ``config.url``.

    Cheap to build (the resolver builds one every few seconds); the signing secret is
    read from the database on first use, once per instance.
    """

    kind = "remote"

    def __init__(
        self,
        org_id: str,
        config: RemoteRecordsConfig,
        *,
        db: Database,
        vault: Vault,
        http: httpx.AsyncClient,
        clock: Callable[[], dt.datetime] = _utcnow,
        deadline_s: float = DEADLINE_S,
    ) -> None:
        self.org_id = org_id
        self.config = config
        self._db = db
        self._vault = vault
        self._clock = clock
        self._deadline_s = deadline_s
        self._secret: bytes | None = None
        self._secret_lock = asyncio.Lock()
        self._log = log.bind(org_id=org_id, records="remote")
        partner = PartnerClient(
            http,
            str(config.url),
            self._signing_secret,
            timeout_s=config.timeout_s,
            retries=config.retries,
            log_context={"org_id": org_id},
        )
        self._replies = PartnerActions(partner, org_id, self._log)

    # --- reads ------------------------------------------------------------------------

    async def call_subject(self, org_id: str, account_ref: str) -> CallSubject:
        self._same_org(org_id)
        reply = await self._replies.read(
            "GET", account_path(account_ref), "/accounts/{ref}", deadline=self._deadline()
        )
        return self._replies.parse(SubjectWire, reply, "/accounts/{ref}").to_subject()

    async def match_caller(self, org_id: str, number: str) -> list[CallSubject]:
        self._same_org(org_id)
        reply = await self._replies.read(
            "GET", "accounts", "/accounts", params={"phone": number}, deadline=self._deadline()
        )
        found = self._replies.parse(MatchesWire, reply, "/accounts").accounts[:20]
        subjects = [s.to_subject() for s in found]
        # The partner orders by urgency; workable accounts still come before settled ones.
        return sorted(subjects, key=lambda s: s.status in ("paid", "closed"))

    async def verify_identity(self, call: CallRef, answer: IdentityAnswer) -> bool:
        ref = self._account_of(call)
        if ref is None:
            return False
        body = {
            "document_last4": answer.document_last4,
            "date_of_birth": answer.date_of_birth.isoformat() if answer.date_of_birth else None,
        }
        route = "/accounts/{ref}/identity-checks"
        reply = await self._replies.read(
            "POST",
            f"{account_path(ref)}/identity-checks",
            route,
            body=body,
            call=call,
            deadline=self._deadline(),
        )
        return self._replies.parse(IdentityWire, reply, route).match

    async def balance(self, call: CallRef) -> Balance:
        ref = self._account_of(call)
        if ref is None:
            raise NotFound("account")
        route = "/accounts/{ref}/balance"
        reply = await self._replies.read(
            "GET", f"{account_path(ref)}/balance", route, call=call, deadline=self._deadline()
        )
        return self._replies.parse(BalanceWire, reply, route).to_balance()

    # --- writes -----------------------------------------------------------------------

    async def register_promise(
        self, call: CallRef, request: PromiseRequest, key: str
    ) -> ActionResult:
        deadline = self._deadline()
        found = await self._subject_for_action(call, deadline)
        if isinstance(found, ActionResult):
            return found
        ref, org, subject = found
        if not allowed(subject.status, "promise_active"):
            return ActionResult.refused(
                "account_not_workable",
                f"A promise cannot be taken on this account now (it is {subject.status}). "
                "Tell the caller a colleague will contact them.",
            )
        zone, _ = contact_zone(org, subject.timezone)
        refusal = check_promise(
            policy_of(org.settings),
            balance=subject.pending_balance,
            currency=subject.currency,
            amount=request.amount,
            due_date=request.due_date,
            today=self._clock().astimezone(zone).date(),
        )
        if refusal is not None:
            return refusal
        body = {
            "amount": money(request.amount),
            "currency": subject.currency,
            "due_date": request.due_date.isoformat(),
        }

        def done(wire: ActionWire) -> ActionResult:
            facts = wire.facts()
            words = f"{request.amount} {subject.currency} on {request.due_date.isoformat()}"
            replaced = " It replaces the earlier promise." if facts.get("replaced") else ""
            return ActionResult.done(
                f"Promise registered: {words}.{replaced}",
                promise_id=facts.get("promise_id"),
                amount=str(request.amount),
                currency=subject.currency,
                due_date=request.due_date.isoformat(),
            )

        return await self._replies.act(call, ref, "promises", body, key, done, deadline)

    async def schedule_callback(
        self, call: CallRef, request: CallbackRequest, key: str
    ) -> ActionResult:
        deadline = self._deadline()
        found = await self._subject_for_action(call, deadline)
        if isinstance(found, ActionResult):
            return found
        ref, org, subject = found
        words = callback_words(request.at, contact_zone(org, subject.timezone)[0])
        at = request.at.astimezone(dt.UTC).isoformat()
        body = {"at": at, "note": request.note[:500], "number": call.number}

        def done(wire: ActionWire) -> ActionResult:
            return ActionResult.done(
                f"Callback scheduled for {words}.",
                callback_id=wire.facts().get("callback_id"),
                at=request.at.isoformat(),
            )

        return await self._replies.act(call, ref, "callbacks", body, key, done, deadline)

    async def register_dispute(self, call: CallRef, reason: str, key: str) -> ActionResult:
        def done(wire: ActionWire) -> ActionResult:
            return ActionResult.done(
                "The dispute is registered; collection on this account stops until it has "
                "been reviewed. The caller will be contacted with the result.",
                dispute_id=wire.facts().get("dispute_id"),
            )

        return await self._account_act(call, "disputes", {"reason": reason}, key, done)

    async def register_hardship(self, call: CallRef, reason: str, key: str) -> ActionResult:
        def done(wire: ActionWire) -> ActionResult:
            return ActionResult.done(
                "The hardship is registered; a colleague will review the account and "
                "contact the caller about options.",
                hardship_id=wire.facts().get("hardship_id"),
            )

        return await self._account_act(call, "hardships", {"reason": reason}, key, done)

    async def opt_out(
        self, call: CallRef, reason: str, scope: OptOutScope, key: str
    ) -> ActionResult:
        deadline = self._deadline()
        self._same_org(call.org_id)
        listed = await self._opt_out_locally(call, reason, scope)
        confirmed = False
        if call.account_ref is not None:
            body = {"scope": scope.value, "number": call.number, "reason": reason}
            answer = await self._replies.act(
                call, call.account_ref, "opt-outs", body, key, _plain_done, deadline
            )
            confirmed = answer.ok
            if not confirmed and not listed:
                return answer
            if not confirmed:
                # parley's own list already stops every call and message to this number;
                # a person carries the opt-out over to the partner (it is not lost).
                self._log.error(
                    "partner.opt_out_unconfirmed",
                    status=answer.status.value,
                    reason=answer.reason,
                    **ids(call),
                )
        elif not listed:
            return ActionResult.refused("no_number", "There is no number to opt out on this call.")
        if scope is OptOutScope.CONTACT and confirmed:
            return ActionResult.done(
                "The opt-out is effective now: no more calls, messages or emails. Confirm "
                "this to the caller and end the call politely.",
                scope="contact",
            )
        return ActionResult.done(
            "This number will not be called or messaged again. Confirm this and end the "
            "call politely.",
            scope="number",
        )

    async def escalate(self, call: CallRef, reason: str, key: str) -> ActionResult:
        def done(wire: ActionWire) -> ActionResult:
            return ActionResult.done(
                "The account is escalated to a person, who will follow up. Tell the caller.",
                changed=bool(wire.facts().get("changed", False)),
            )

        return await self._account_act(call, "escalations", {"reason": reason}, key, done)

    async def add_alternate_number(
        self, call: CallRef, number: str, relation: str, key: str
    ) -> ActionResult:
        org = await self._org()
        try:
            e164 = to_e164(number, org.country)
        except InvalidPhone as exc:
            return ActionResult.refused(
                "invalid_number",
                f"That does not look like a valid phone number ({exc.reason}). Ask the caller "
                "to repeat it digit by digit.",
            )
        if call.account_ref is None:
            return ActionResult.refused("no_contact", "There is no contact to add the number to.")
        source = "third_party" if relation == "third_party" else "agent"
        body = {"number": e164, "relation": relation, "source": source}

        def done(wire: ActionWire) -> ActionResult:
            known = bool(wire.facts().get("already_known"))
            return ActionResult.done(
                "That number is already on file. Thank the caller."
                if known
                else "The number is saved. Thank the caller.",
                number=e164,
            )

        return await self._account_act(call, "phones", body, key, done)

    async def mark_wrong_party(self, call: CallRef, key: str) -> ActionResult:
        said = ActionResult.done(
            "Noted: this number does not reach the person we are looking for. Do not mention "
            "the reason for the call or any debt. Ask politely whether they can give a number "
            "where the person can be reached, then end the call.",
        )
        if call.account_ref is None:
            return said
        return await self._account_act(
            call, "wrong-party", {"number": call.number}, key, lambda wire: said
        )

    async def set_channel_preference(self, call: CallRef, channel: str, key: str) -> ActionResult:
        if call.account_ref is None:
            return ActionResult.refused("no_contact", "There is no contact for this call.")

        def done(wire: ActionWire) -> ActionResult:
            return ActionResult.done(f"Noted: the caller prefers {channel}.", channel=channel)

        return await self._account_act(call, "channel-preference", {"channel": channel}, key, done)

    # --- pushes -----------------------------------------------------------------------

    async def call_started(
        self, call: CallRef, *, direction: str, within_allowed_hours: bool | None
    ) -> str | None:
        """Tell the partner; the call's timeline lives there, so parley keeps no
        interaction of its own (None)."""
        body = {
            "account_ref": call.account_ref,
            "direction": direction,
            "number": call.number,
            "within_allowed_hours": within_allowed_hours,
            "started_at": self._clock().astimezone(dt.UTC).isoformat(),
        }
        await self._push(call, "started", body, "started")
        return None

    async def record_outcome(self, call: CallRef, outcome: CallOutcome) -> None:
        body = outcome_body(call.account_ref, outcome)
        # The same report sent twice is one report; a later one with more facts is not.
        digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
        await self._push(call, "outcome", body, f"outcome:{digest}")

    async def resend(self, push: remote_outbox.Push) -> PushOutcome:
        """Send a kept report again, as it was first sent (same idempotency key)."""
        call = CallRef(org_id=push.org_id, call_sid=push.call_sid, account_ref=push.account_ref)
        return await self._replies.push(call, push.what, push.body, push.action, self._deadline())

    async def _push(self, call: CallRef, what: str, body: dict[str, Any], action: str) -> None:
        """One bounded attempt now; a report the partner did not take is kept and sent
        again later (:mod:`backoffice.calls.remote_outbox`)."""
        if await self._replies.push(call, what, body, action, self._deadline()) != "failed":
            return
        try:
            await remote_outbox.keep(
                self._db,
                org_id=call.org_id,
                call_sid=call.call_sid,
                account_ref=call.account_ref,
                what=what,
                action=action,
                body=body,
            )
        except Exception:  # never into the call or the webhook behind it
            self._log.exception("partner.push_not_kept", what=what, call_sid=call.call_sid)

    # --- plumbing ---------------------------------------------------------------------

    async def _signing_secret(self) -> bytes:
        if self._secret is None:
            async with self._secret_lock:
                if self._secret is None:
                    self._secret = await load_signing_secret(self._db, self._vault, self.org_id)
        if self._secret is None:
            self._log.error("partner.no_secret")
            raise PartnerUnavailable("no_secret")
        return self._secret

    def _deadline(self) -> float:
        return time.monotonic() + self._deadline_s

    def _same_org(self, org_id: str) -> None:
        if org_id != self.org_id:  # another organization's account is "not found"
            raise NotFound("account")

    def _account_of(self, call: CallRef) -> str | None:
        self._same_org(call.org_id)
        return call.account_ref

    async def _org(self) -> Organization:
        async with self._db.read() as conn:
            return await get_organization(conn, self.org_id)

    async def _subject_for_action(
        self, call: CallRef, deadline: float
    ) -> tuple[str, Organization, CallSubject] | ActionResult:
        """The account an action is about, read fresh from the partner; a partner that
        does not answer in time gives the sentence the agent says instead."""
        ref = self._account_of(call)
        if ref is None:
            raise NotFound("account")
        org = await self._org()
        try:
            subject = await self._subject_within(ref, deadline, call)
        except RecordsUnavailable:
            return ActionResult.unavailable(NOT_IN_TIME)
        return ref, org, subject

    async def _subject_within(self, ref: str, deadline: float, call: CallRef) -> CallSubject:
        reply = await self._replies.read(
            "GET", account_path(ref), "/accounts/{ref}", call=call, deadline=deadline
        )
        return self._replies.parse(SubjectWire, reply, "/accounts/{ref}").to_subject()

    async def _account_act(
        self,
        call: CallRef,
        action: str,
        body: dict[str, Any],
        key: str,
        done: Callable[[ActionWire], ActionResult],
    ) -> ActionResult:
        ref = self._account_of(call)
        if ref is None:
            raise NotFound("account")
        return await self._replies.act(call, ref, action, body, key, done, self._deadline())

    async def _opt_out_locally(self, call: CallRef, reason: str, scope: OptOutScope) -> bool:
        """Put the dialled number on parley's own do-not-contact list, audited."""
        if not call.number:
            return False
        async with self._db.transaction() as conn:
            await dnc_list.remember(
                conn,
                org_id=self.org_id,
                numbers=[call.number],
                reason=reason.strip()[:500] or "asked during a call",
                source="agent",
                actor=call.actor,
            )
            await audit.record(
                conn,
                org_id=self.org_id,
                actor=call.actor,
                action="contact.opt_out",
                entity_type="account",
                entity_id=call.account_ref,
                reason=reason[:500],
                detail={
                    "source": "agent",
                    "scope": scope.value,
                    "phone": call.number,
                    "system_of_record": "remote",
                },
            )
        return True


def _plain_done(wire: ActionWire) -> ActionResult:
    return ActionResult.done("done")


class RemoteRecordsFactory:
    """Builds organizations' :class:`RemoteRecords` over one connection pool per process.

    Pass it to :class:`~backoffice.calls.records.RecordsResolver` as its ``remote``;
    close it (:meth:`aclose`) when the process stops.
    """

    def __init__(
        self,
        db: Database,
        vault: Vault,
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
        http: httpx.AsyncClient | None = None,
        deadline_s: float = DEADLINE_S,
    ) -> None:
        self._db = db
        self._vault = vault
        self._clock = clock
        self._deadline_s = deadline_s
        self.http = http or httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            follow_redirects=False,
        )

    def __call__(self, org_id: str, config: RemoteRecordsConfig) -> SystemOfRecord:
        return RemoteRecords(
            org_id,
            config,
            db=self._db,
            vault=self._vault,
            http=self.http,
            clock=self._clock,
            deadline_s=self._deadline_s,
        )

    async def aclose(self) -> None:
        await self.http.aclose()


def remote_factory(
    db: Database,
    vault: Vault,
    *,
    clock: Callable[[], dt.datetime] = _utcnow,
    deadline_s: float = DEADLINE_S,
) -> RemoteRecordsFactory:
    """The ``RemoteFactory`` for the gateway's :class:`RecordsResolver` (one per process)."""
    return RemoteRecordsFactory(db, vault, clock=clock, deadline_s=deadline_s)
