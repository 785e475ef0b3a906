"""The built-in system of record: the call interface on parley's own store.

Each method is one transaction (reads take a connection, writes a transaction), so an
action and its status change, timeline entry and audit entry commit together.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.calls import actions, outcomes, subjects
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
from backoffice.calls.policy import policy_of
from backoffice.calls.rules import callback_words
from backoffice.compliance.check import contact_zone
from backoffice.orgs.models import Organization
from backoffice.orgs.service import get_organization
from backoffice.store.db import Database

OrganizationSource = Callable[[str], Awaitable[Organization]]


class BuiltinRecords:
    kind = "builtin"

    def __init__(
        self,
        db: Database,
        clock: Callable[[], dt.datetime],
        organization: OrganizationSource | None = None,
    ) -> None:
        """``organization``: where the actions read the organization's rules from (the
        resolver's briefly cached copy, which the tool's own checks already use);
        default: the database, in the action's transaction."""
        self.db = db
        self.clock = clock
        self._organization = organization

    async def _org(self, conn: AsyncConnection, org_id: str) -> Organization:
        if self._organization is not None:
            return await self._organization(org_id)
        return await get_organization(conn, org_id)

    async def call_subject(self, org_id: str, account_ref: str) -> CallSubject:
        async with self.db.read() as conn:
            return await subjects.call_subject(conn, org_id, account_ref)

    async def match_caller(self, org_id: str, number: str) -> list[CallSubject]:
        async with self.db.read() as conn:
            return await subjects.match_caller(conn, org_id, number)

    async def verify_identity(self, call: CallRef, answer: IdentityAnswer) -> bool:
        if call.account_ref is None:
            return False
        async with self.db.read() as conn:
            last4, born = await subjects.identity_facts(conn, call.org_id, call.account_ref)
        if not last4 or not hmac.compare_digest(last4, answer.document_last4):
            return False
        return answer.date_of_birth is None or answer.date_of_birth == born

    async def balance(self, call: CallRef) -> Balance:
        assert call.account_ref is not None
        async with self.db.read() as conn:
            return await subjects.balance_of(conn, call.org_id, call.account_ref)

    async def register_promise(
        self, call: CallRef, request: PromiseRequest, key: str
    ) -> ActionResult:
        async with self.db.transaction() as conn:
            org = await self._org(conn, call.org_id)
            timezone = await subjects.contact_timezone(conn, call.org_id, call.account_ref or "")
            zone, _ = contact_zone(org, timezone)
            today = self.clock().astimezone(zone).date()
            return await actions.register_promise(
                conn, call, request, key=key, policy=policy_of(org.settings), today=today
            )

    async def schedule_callback(
        self, call: CallRef, request: CallbackRequest, key: str
    ) -> ActionResult:
        async with self.db.transaction() as conn:
            org = await self._org(conn, call.org_id)
            timezone = await subjects.contact_timezone(conn, call.org_id, call.account_ref or "")
            zone, _ = contact_zone(org, timezone)
            words = callback_words(request.at, zone)
            return await actions.schedule_callback(conn, call, request, key=key, local=words)

    async def register_dispute(self, call: CallRef, reason: str, key: str) -> ActionResult:
        async with self.db.transaction() as conn:
            return await actions.register_dispute(conn, call, reason, key=key)

    async def register_hardship(self, call: CallRef, reason: str, key: str) -> ActionResult:
        async with self.db.transaction() as conn:
            return await actions.register_hardship(conn, call, reason, key=key)

    async def opt_out(
        self, call: CallRef, reason: str, scope: OptOutScope, key: str
    ) -> ActionResult:
        async with self.db.transaction() as conn:
            return await actions.opt_out(conn, call, reason, scope)

    async def escalate(self, call: CallRef, reason: str, key: str) -> ActionResult:
        async with self.db.transaction() as conn:
            return await actions.escalate(conn, call, reason)

    async def add_alternate_number(
        self, call: CallRef, number: str, relation: str, key: str
    ) -> ActionResult:
        async with self.db.transaction() as conn:
            org = await self._org(conn, call.org_id)
            return await actions.add_alternate_number(conn, call, number, relation, org=org)

    async def mark_wrong_party(self, call: CallRef, key: str) -> ActionResult:
        async with self.db.transaction() as conn:
            return await actions.mark_wrong_party(conn, call)

    async def set_channel_preference(self, call: CallRef, channel: str, key: str) -> ActionResult:
        async with self.db.transaction() as conn:
            return await actions.set_channel_preference(conn, call, channel)

    async def call_started(
        self, call: CallRef, *, direction: str, within_allowed_hours: bool | None
    ) -> str | None:
        """Open the call's interaction on the account's timeline; returns its id."""
        if call.account_ref is None:
            return None
        async with self.db.transaction() as conn:
            return await outcomes.open_interaction(
                conn,
                call,
                direction=direction,
                at=self.clock(),
                within_allowed_hours=within_allowed_hours,
            )

    async def record_outcome(self, call: CallRef, outcome: CallOutcome) -> None:
        async with self.db.transaction() as conn:
            await outcomes.record_outcome(conn, call, outcome)
