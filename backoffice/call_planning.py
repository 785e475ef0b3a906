"""Everything the backoffice must say before an outbound call is dialled.

The gateway asks :func:`plan_outbound_call` and dials only what it returns: the
account must belong to the caller's organization (another's is "not found"), the
number must be one of the contact's own (an operator cannot dial an arbitrary number
under an account's name), and the one compliance check must allow a call now.

The account comes from the organization's system of record (built-in or remote). The
compliance rules are parley's whichever system holds the debt: for the built-in store
:func:`~backoffice.compliance.check.may_contact` reads everything itself; for a
remote one the same decision is made from the partner's facts plus parley's own
do-not-contact list and inbound-call rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from backoffice.calls.builtin import BuiltinRecords
from backoffice.calls.interface import SystemOfRecord
from backoffice.calls.models import CallSubject
from backoffice.calls.rotation import dial_order, third_party_number
from backoffice.compliance import dnc_list
from backoffice.compliance.check import Decision, Reason, after_inbound_call, decide, may_contact
from backoffice.errors import FieldError, InvalidInput
from backoffice.language import effective_language
from backoffice.orgs.models import Organization
from backoffice.orgs.service import get_organization
from backoffice.store.db import Database

DynamicValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class CallPlan:
    """A call that may go ahead, or the compliance decision that stops it."""

    account_id: str
    contact_id: str | None
    to: str
    language: str
    variables: dict[str, DynamicValue]
    decision: Decision
    subject: CallSubject
    #: The number was given by a third party: the agent treats the call as a first contact.
    third_party_number: bool = False

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


async def plan_outbound_call(
    db: Database,
    *,
    org_id: str,
    account: str,
    to: str | None,
    language: str | None,
    at: dt.datetime,
    records: SystemOfRecord | None = None,
) -> CallPlan:
    """Resolve and check an outbound call to an account.

    Args:
        account: the account's id or its external id in this organization.
        to: the number to dial in E.164, or None for the next number in the contact's
            phone rotation (disconnected numbers skipped, wrong-party ones last).
        language: an operator's override, or None for the effective language.
        records: the organization's system of record (default: the built-in store).

    Raises:
        NotFound: no such account in this organization.
        InvalidInput: ``to`` is not one of the contact's numbers, or there is none.
    """
    records = records or BuiltinRecords(db, lambda: at)
    subject = await records.call_subject(org_id, account)
    async with db.read() as conn:
        org = await get_organization(conn, org_id)
    rotation = dial_order(subject.phones)
    known = {p.number for p in subject.phones if p.state != "disconnected"}
    known |= {n for n in (subject.whatsapp,) if n}
    if to is None:
        if not rotation:
            raise InvalidInput([FieldError("to", "the contact has no number that can be dialled")])
        to = rotation[0]
    elif to not in known:
        raise InvalidInput([FieldError("to", "not one of this account's contact numbers")])
    decision = await _decision(db, records, org, subject, to, at)
    chosen = effective_language(
        override=language,
        contact_language=subject.language,
        org_locale=org.locale,
        org_country=org.country,
    )
    return CallPlan(
        account_id=subject.account_ref,
        contact_id=subject.contact_id,
        to=to,
        language=chosen.tag,
        variables={"debtor_first_name": subject.first_name, "org_name": org.name},
        decision=decision,
        subject=subject,
        third_party_number=third_party_number(subject.phones, to),
    )


async def _decision(
    db: Database,
    records: SystemOfRecord,
    org: Organization,
    subject: CallSubject,
    to: str,
    at: dt.datetime,
) -> Decision:
    async with db.read() as conn:
        if records.kind == "builtin" and subject.contact_id is not None:
            return await may_contact(
                conn,
                org_id=org.id,
                contact_id=subject.contact_id,
                account_id=subject.account_ref,
                channel="call",
                at=at,
            )
        decision = decide(
            org,
            contact_tz=subject.timezone,
            opted_out=subject.opted_out,
            account_status=subject.status,
            channel="call",
            at=at,
        )
        if decision.allowed:
            decision = await after_inbound_call(
                conn, org, decision, account_ref=subject.account_ref
            )
        if decision.reason is Reason.OPTED_OUT:
            return decision
        listed = await dnc_list.listed(conn, org_id=org.id, numbers=[to])
    if not listed:
        return decision
    return replace(
        decision,
        allowed=False,
        reason=Reason.DNC_LISTED,
        message=f"{to} is on the organization's do-not-contact list.",
        next_allowed_at=None,
        allowed_until=None,
    )
