"""Account status changes: the one function every part of parley uses to change a status.

Theory of operation
-------------------
An account's status says where it is in the collection cycle. Operators (API),
imports, the agent's tools mid-call and post-call webhooks all change it, and all of
them call :func:`change_status`, which in the caller's transaction:

1. locks the account row (PostgreSQL; SQLite serialises writers anyway);
2. checks the target against :data:`TRANSITIONS` (an unknown status is
   ``InvalidInput`` naming ``to``, a forbidden move is ``Conflict``);
3. updates the status only if it is still the one read (a concurrent change makes
   this one a ``Conflict`` rather than silently overwriting it);
4. appends the change to ``account_status_history`` (from, to, actor, reason, at)
   and to the audit log;
5. rescores the account's priority (paid and closed accounts score 0).

Changing to the status the account already has is a no-op that records nothing and
returns ``changed=False``: a retried webhook or a double-clicked button must not
fill the history with non-changes.

The transition table, in words:

- ``new`` is only ever a starting point: nothing moves back to it.
- The working statuses (pending contact, auto management, active conversation,
  promise active, escalated, in review) move freely among each other, and to
  ``paused``, ``paid`` and ``closed``.
- ``promise_overdue`` is reached only from ``promise_active``: no promise, nothing
  to be overdue. From it the account goes on being worked, or a new promise is made.
- ``paused`` stops work until someone resumes it into pending contact, auto
  management, escalated or in review (or it is paid or closed meanwhile). It cannot
  jump straight into a conversation or a promise: resume first.
- ``paid`` leads only to ``closed`` (archived) or ``in_review`` (a payment bounced
  or was disputed: a person looks before collection resumes).
- ``closed`` is final except for ``in_review``: reopening an account is a decision
  a person makes and reviews, never a side effect of an import or a call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy import Row, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice import audit
from backoffice.accounts import priority
from backoffice.accounts.models import StatusChange
from backoffice.accounts.repository import account_row
from backoffice.errors import Conflict, FieldError, InvalidInput
from backoffice.store.tables import (
    ACCOUNT_STATUSES,
    account_status_history,
    accounts,
    new_id,
    utcnow,
)

log = structlog.get_logger(__name__)

_WORKING = frozenset(
    {
        "pending_contact",
        "auto_management",
        "active_conversation",
        "promise_active",
        "escalated",
        "in_review",
    }
)
_ANYWHERE_FROM_WORK = _WORKING | {"paused", "paid", "closed"}

TRANSITIONS: Mapping[str, frozenset[str]] = {
    "new": _ANYWHERE_FROM_WORK,
    **{status: _ANYWHERE_FROM_WORK - {status} for status in _WORKING},
    "promise_active": (_ANYWHERE_FROM_WORK - {"promise_active"}) | {"promise_overdue"},
    "promise_overdue": _ANYWHERE_FROM_WORK,
    "paused": frozenset(
        {"pending_contact", "auto_management", "escalated", "in_review", "paid", "closed"}
    ),
    "paid": frozenset({"closed", "in_review"}),
    "closed": frozenset({"in_review"}),
}
assert set(TRANSITIONS) == set(ACCOUNT_STATUSES)


def allowed(from_status: str, to_status: str) -> bool:
    """Whether an account may move from one status to another (same status: yes, no-op)."""
    return from_status == to_status or to_status in TRANSITIONS.get(from_status, frozenset())


async def change_status(
    conn: AsyncConnection,
    *,
    org_id: str,
    account_id: str,
    to_status: str,
    actor: str,
    reason: str | None,
    rescore: bool = True,
    now: dt.datetime | None = None,
    locked: Row[*tuple[Any, ...]] | None = None,
) -> StatusChange:
    """Move an account to ``to_status``, recording who, why and when, in ``conn``'s
    transaction.

    Args:
        actor: who or what changed it: ``api:<key name>``, ``agent:<call_sid>``,
            ``import``, ``webhook:elevenlabs``, ``portal``...
        reason: why, in words (kept in the history and the audit log).
        rescore: recompute the priority score now. A bulk job that changes many
            accounts may pass False and run ``recalculate_organization`` once after.
        locked: the account's row as the caller already read it, locked, in this
            transaction (saves reading it again).

    Raises:
        NotFound: the account does not exist in this organization.
        InvalidInput: ``to_status`` is not a status (field ``to``).
        Conflict: the transition is not allowed, or the status changed meanwhile.
    """
    if to_status not in ACCOUNT_STATUSES:
        raise InvalidInput(
            [FieldError("to", f"must be one of {', '.join(ACCOUNT_STATUSES)}")],
            "invalid status change",
        )
    now = now or utcnow()
    row = locked or await account_row(conn, org_id, account_id, for_update=True)
    current: str = row.status
    if current == to_status:
        return StatusChange(
            account_id=account_id,
            from_status=current,
            to_status=to_status,
            changed=False,
            actor=actor,
            reason=reason,
            at=now,
        )
    if not allowed(current, to_status):
        choices = ", ".join(s for s in ACCOUNT_STATUSES if s in TRANSITIONS[current])
        raise Conflict(f"an account cannot go from {current} to {to_status} (allowed: {choices})")
    result = await conn.execute(
        update(accounts)
        .where(
            accounts.c.id == account_id,
            accounts.c.org_id == org_id,
            accounts.c.status == current,
        )
        .values(status=to_status, updated_at=now)
    )
    if result.rowcount != 1:
        raise Conflict("the account's status changed meanwhile; reload and try again")
    await _record(conn, org_id, account_id, current, to_status, actor, reason, now)
    if rescore:
        await priority.recalculate(conn, org_id=org_id, account_id=account_id, now=now)
    log.info(
        "account.status_changed",
        org_id=org_id,
        account_id=account_id,
        from_status=current,
        to_status=to_status,
        actor=actor,
    )
    return StatusChange(
        account_id=account_id,
        from_status=current,
        to_status=to_status,
        changed=True,
        actor=actor,
        reason=reason,
        at=now,
    )


async def record_initial_status(
    conn: AsyncConnection,
    *,
    org_id: str,
    account_id: str,
    status: str,
    actor: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record the status an account was created with (``from_status`` empty), so the
    history starts at the beginning. For code that creates accounts (imports)."""
    await _record(conn, org_id, account_id, None, status, actor, reason, now or utcnow())


async def _record(
    conn: AsyncConnection,
    org_id: str,
    account_id: str,
    from_status: str | None,
    to_status: str,
    actor: str,
    reason: str | None,
    at: dt.datetime,
) -> None:
    await conn.execute(
        insert(account_status_history).values(
            id=new_id(),
            org_id=org_id,
            account_id=account_id,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            reason=reason,
            at=at,
        )
    )
    await audit.record(
        conn,
        org_id=org_id,
        actor=actor,
        action="account.status_changed",
        entity_type="account",
        entity_id=account_id,
        reason=reason,
        detail={"from": from_status, "to": to_status},
    )
