"""Binding an inbound call to the account the verified caller turned out to be about.

The interaction on that account's timeline starts at the bind, so every action taken
later in the call lands on it.
"""

from __future__ import annotations

from agent_tools.scope import CallScope
from backoffice.calls.models import CallRef
from backoffice.calls.sessions import update_session


async def bind_account(scope: CallScope, account_ref: str, contact_id: str | None) -> None:
    session = scope.session
    values: dict[str, object] = {"account_ref": account_ref, "contact_id": contact_id}
    call = CallRef(
        org_id=session.org_id,
        call_sid=session.call_sid,
        account_ref=account_ref,
        contact_id=contact_id,
        number=session.number,
        language=scope.language,
    )
    if session.interaction_id is None:
        interaction_id = await scope.records.call_started(
            call, direction=session.direction, within_allowed_hours=None
        )
        if interaction_id is not None:
            values["interaction_id"] = interaction_id
    await update_session(scope.db, session.call_sid, **values)
