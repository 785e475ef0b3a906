"""What the agent's actions write in the built-in store, one transaction each.

Every function here runs inside the caller's transaction and writes, together, the
record itself (promise, callback, dispute...), the account's status change where
the action implies one (through :func:`~backoffice.accounts.status.change_status`,
so history, audit and priority follow), the timeline entry and the audit entry. A
refusal writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import Row, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice import audit
from backoffice.accounts import priority
from backoffice.accounts.repository import account_row
from backoffice.accounts.status import allowed, change_status
from backoffice.calls.models import (
    ActionResult,
    CallbackRequest,
    CallRef,
    OptOutScope,
    PromiseRequest,
)
from backoffice.calls.policy import CallPolicy
from backoffice.calls.rules import check_promise
from backoffice.calls.timeline import add_event
from backoffice.compliance import dnc_list
from backoffice.compliance.optout import opt_out_contact
from backoffice.compliance.phones import InvalidPhone, to_e164
from backoffice.orgs.models import Organization
from backoffice.store.tables import (
    accounts,
    callback_requests,
    contact_phones,
    contacts,
    disputes,
    hardships,
    new_id,
    promises,
)

CHANNELS = ("call", "sms", "whatsapp", "email")


def _idempotency(call: CallRef, key: str) -> str:
    """A record's unique key: tool-call ids are only unique within one conversation."""
    return hashlib.sha256(f"{call.org_id}:{call.call_sid}:{key}".encode()).hexdigest()


async def _event(
    conn: AsyncConnection, call: CallRef, kind: str, summary: str, **detail: object
) -> None:
    await add_event(
        conn,
        org_id=call.org_id,
        account_id=call.account_ref,
        interaction_id=call.interaction_id,
        kind=kind,
        summary=summary,
        actor=call.actor,
        detail={"call_sid": call.call_sid, **detail},
    )


async def _move(
    conn: AsyncConnection,
    call: CallRef,
    to_status: str,
    reason: str,
    locked: Row[*tuple[Any, ...]] | None = None,
) -> bool:
    """Change the account's status if the transition table allows it; else leave it.

    ``locked``: the account's row, already read for update in this transaction. The
    priority is rescored once the action has committed: the agent is waiting.
    """
    assert call.account_ref is not None
    row = locked or await account_row(conn, call.org_id, call.account_ref, for_update=True)
    if not allowed(row.status, to_status):
        return False
    change = await change_status(
        conn,
        org_id=call.org_id,
        account_id=call.account_ref,
        to_status=to_status,
        actor=call.actor,
        reason=reason,
        rescore=False,
        locked=row,
    )
    if change.changed:
        await priority.recalculate_after_commit(
            conn, org_id=call.org_id, account_id=call.account_ref
        )
    return change.changed


# Built once: run by every promise the agent registers.
_SUPERSEDE = (
    update(promises)
    .where(
        promises.c.org_id == bindparam("p_org"),
        promises.c.account_id == bindparam("p_account"),
        promises.c.status == "active",
    )
    .values(status="superseded")
)


async def register_promise(
    conn: AsyncConnection,
    call: CallRef,
    request: PromiseRequest,
    *,
    key: str,
    policy: CallPolicy,
    today: dt.date,
) -> ActionResult:
    assert call.account_ref is not None
    account = await account_row(conn, call.org_id, call.account_ref, for_update=True)
    if not allowed(account.status, "promise_active"):
        return ActionResult.refused(
            "account_not_workable",
            f"A promise cannot be taken on this account now (it is {account.status}). "
            "Tell the caller a colleague will contact them.",
        )
    refusal = check_promise(
        policy,
        balance=account.pending_balance,
        currency=account.currency,
        amount=request.amount,
        due_date=request.due_date,
        today=today,
    )
    if refusal is not None:
        return refusal
    superseded = await conn.execute(
        _SUPERSEDE, {"p_org": call.org_id, "p_account": call.account_ref}
    )
    promise_id = new_id()
    await conn.execute(
        insert(promises),
        {
            "id": promise_id,
            "org_id": call.org_id,
            "account_id": call.account_ref,
            "interaction_id": call.interaction_id,
            "amount": request.amount,
            "currency": account.currency,
            "due_date": request.due_date,
            "status": "active",
            "source": "agent",
            "idempotency_key": _idempotency(call, key),
        },
    )
    words = f"{request.amount} {account.currency} on {request.due_date.isoformat()}"
    if not await _move(conn, call, "promise_active", f"promise to pay {words}", locked=account):
        # No status change, but a pending promise moves the score all the same.
        await priority.recalculate_after_commit(
            conn, org_id=call.org_id, account_id=call.account_ref
        )
    await _event(
        conn,
        call,
        "promise",
        f"Promise to pay {words}",
        promise_id=promise_id,
        amount=str(request.amount),
        due_date=request.due_date.isoformat(),
    )
    await audit.record(
        conn,
        org_id=call.org_id,
        actor=call.actor,
        action="promise.create",
        entity_type="account",
        entity_id=call.account_ref,
        detail={"promise_id": promise_id, "amount": str(request.amount)},
    )
    replaced = " It replaces the earlier promise." if superseded.rowcount else ""
    return ActionResult.done(
        f"Promise registered: {words}.{replaced}",
        promise_id=promise_id,
        amount=str(request.amount),
        currency=account.currency,
        due_date=request.due_date.isoformat(),
    )


# Built once: run by every callback the agent books.
_HOLD_CONTACT = update(accounts).where(
    accounts.c.org_id == bindparam("h_org"), accounts.c.id == bindparam("h_account")
)


async def schedule_callback(
    conn: AsyncConnection, call: CallRef, request: CallbackRequest, *, key: str, local: str
) -> ActionResult:
    """``request.at`` is already inside the allowed hours; ``local`` is how to say it."""
    assert call.account_ref is not None
    callback_id = new_id()
    await conn.execute(
        insert(callback_requests),
        {
            "id": callback_id,
            "org_id": call.org_id,
            "account_id": call.account_ref,
            "scheduled_for": request.at,
            "status": "pending",
            "source": "agent",
            "idempotency_key": _idempotency(call, key),
            "interaction_id": call.interaction_id,
            "number": call.number,
            "note": request.note[:500] or None,
        },
    )
    # The strategy waits for the callback: no automated contact before it.
    await conn.execute(
        _HOLD_CONTACT,
        {"h_org": call.org_id, "h_account": call.account_ref, "next_contact_at": request.at},
    )
    await _event(
        conn, call, "callback", f"Callback scheduled for {local}", at=request.at.isoformat()
    )
    return ActionResult.done(
        f"Callback scheduled for {local}.", callback_id=callback_id, at=request.at.isoformat()
    )


async def register_dispute(
    conn: AsyncConnection, call: CallRef, reason: str, *, key: str
) -> ActionResult:
    assert call.account_ref is not None
    dispute_id = new_id()
    await conn.execute(
        insert(disputes),
        {
            "id": dispute_id,
            "org_id": call.org_id,
            "account_id": call.account_ref,
            "reason": reason,
            "status": "open",
            "source": "agent",
            "idempotency_key": _idempotency(call, key),
            "interaction_id": call.interaction_id,
        },
    )
    # A disputed debt is not collected until a person has reviewed it.
    await _move(conn, call, "in_review", f"dispute: {reason}"[:500])
    await _event(conn, call, "dispute", f"Dispute filed: {reason}", dispute_id=dispute_id)
    await audit.record(
        conn,
        org_id=call.org_id,
        actor=call.actor,
        action="dispute.create",
        entity_type="account",
        entity_id=call.account_ref,
        reason=reason[:500],
    )
    return ActionResult.done(
        "The dispute is registered; collection on this account stops until it has been "
        "reviewed. The caller will be contacted with the result.",
        dispute_id=dispute_id,
    )


async def register_hardship(
    conn: AsyncConnection, call: CallRef, reason: str, *, key: str
) -> ActionResult:
    assert call.account_ref is not None
    hardship_id = new_id()
    await conn.execute(
        insert(hardships),
        {
            "id": hardship_id,
            "org_id": call.org_id,
            "account_id": call.account_ref,
            "interaction_id": call.interaction_id,
            "reason": reason,
            "status": "open",
            "source": "agent",
            "idempotency_key": _idempotency(call, key),
        },
    )
    await _move(conn, call, "in_review", f"hardship: {reason}"[:500])
    await _event(conn, call, "hardship", f"Hardship reported: {reason}", hardship_id=hardship_id)
    return ActionResult.done(
        "The hardship is registered; a colleague will review the account and contact the "
        "caller about options.",
        hardship_id=hardship_id,
    )


async def opt_out(
    conn: AsyncConnection,
    call: CallRef,
    reason: str,
    scope: OptOutScope,
) -> ActionResult:
    if scope is OptOutScope.CONTACT and call.contact_id is not None:
        await opt_out_contact(
            conn,
            org_id=call.org_id,
            contact_id=call.contact_id,
            reason=reason,
            actor=call.actor,
            source="agent",
        )
        await _event(conn, call, "opt_out", f"Opted out of all contact: {reason}")
        return ActionResult.done(
            "The opt-out is effective now: no more calls, messages or emails. Confirm this "
            "to the caller and end the call politely.",
            scope="contact",
        )
    if not call.number:
        return ActionResult.refused("no_number", "There is no number to opt out on this call.")
    # Not the verified debtor: the number is listed (no call or message reaches it
    # again), but nobody is opted out of email on a stranger's word.
    await dnc_list.remember(
        conn,
        org_id=call.org_id,
        numbers=[call.number],
        reason=reason,
        source="agent",
        actor=call.actor,
    )
    await audit.record(
        conn,
        org_id=call.org_id,
        actor=call.actor,
        action="dnc.added",
        entity_type="number",
        entity_id=call.number,
        reason=reason[:500],
    )
    await _event(conn, call, "opt_out", f"Number {call.number} opted out: {reason}", scope="number")
    return ActionResult.done(
        "This number will not be called or messaged again. Confirm this and end the call politely.",
        scope="number",
    )


async def escalate(conn: AsyncConnection, call: CallRef, reason: str) -> ActionResult:
    moved = await _move(conn, call, "escalated", reason)
    await _event(conn, call, "escalation", f"Escalated: {reason}")
    return ActionResult.done(
        "The account is escalated to a person, who will follow up. Tell the caller.",
        changed=moved,
    )


async def add_alternate_number(
    conn: AsyncConnection, call: CallRef, number: str, relation: str, *, org: Organization
) -> ActionResult:
    try:
        e164 = to_e164(number, org.country)
    except InvalidPhone as exc:
        return ActionResult.refused(
            "invalid_number",
            f"That does not look like a valid phone number ({exc.reason}). Ask the caller to "
            "repeat it digit by digit.",
        )
    if call.contact_id is None:
        return ActionResult.refused("no_contact", "There is no contact to add the number to.")
    exists = (
        await conn.execute(
            select(contact_phones.c.id).where(
                contact_phones.c.org_id == call.org_id,
                contact_phones.c.contact_id == call.contact_id,
                contact_phones.c.number == e164,
            )
        )
    ).first()
    if exists is None:
        await conn.execute(
            insert(contact_phones),
            {
                "id": new_id(),
                "org_id": call.org_id,
                "contact_id": call.contact_id,
                "number": e164,
                "state": "valid",
                "source": "third_party" if relation == "third_party" else "agent",
                "consecutive_failures": 0,
            },
        )
    await _event(
        conn,
        call,
        "alternate_number",
        f"Alternate number {e164} given by the {relation.replace('_', ' ')}",
        number=e164,
        relation=relation,
    )
    return ActionResult.done(
        "The number is saved. Thank the caller."
        if exists is None
        else "That number is already on file. Thank the caller.",
        number=e164,
    )


async def mark_wrong_party(conn: AsyncConnection, call: CallRef) -> ActionResult:
    if call.number and call.contact_id:
        marked = await conn.execute(
            update(contact_phones)
            .where(
                contact_phones.c.org_id == call.org_id,
                contact_phones.c.contact_id == call.contact_id,
                contact_phones.c.number == call.number,
            )
            .values(state="wrong_party")
        )
        if not marked.rowcount:
            await _file_main_number_as_wrong_party(conn, call, call.number, call.contact_id)
    await _event(conn, call, "wrong_party", f"{call.number or 'The number'} reaches someone else")
    return ActionResult.done(
        "Noted: this number does not reach the person we are looking for. Do not mention "
        "the reason for the call or any debt. Ask politely whether they can give a number "
        "where the person can be reached, then end the call.",
    )


async def _file_main_number_as_wrong_party(
    conn: AsyncConnection, call: CallRef, number: str, contact_id: str
) -> None:
    """A contact's main or WhatsApp number kept only on the contact has no row to mark:
    file it, marked, or the rotation would keep dialling it first."""
    owned = (
        await conn.execute(
            select(contacts.c.id).where(
                contacts.c.org_id == call.org_id,
                contacts.c.id == contact_id,
                or_(contacts.c.phone == number, contacts.c.whatsapp == number),
            )
        )
    ).first()
    if owned is not None:
        await conn.execute(
            insert(contact_phones),
            {
                "id": new_id(),
                "org_id": call.org_id,
                "contact_id": contact_id,
                "number": number,
                "state": "wrong_party",
                "source": "contact",
                "consecutive_failures": 0,
            },
        )


async def set_channel_preference(
    conn: AsyncConnection, call: CallRef, channel: str
) -> ActionResult:
    if call.contact_id is None:
        return ActionResult.refused("no_contact", "There is no contact for this call.")
    await conn.execute(
        update(contacts)
        .where(contacts.c.org_id == call.org_id, contacts.c.id == call.contact_id)
        .values(preferred_channel=channel)
    )
    await _event(conn, call, "channel_preference", f"Prefers to be contacted by {channel}")
    return ActionResult.done(f"Noted: the caller prefers {channel}.", channel=channel)
