"""What a tool handler acts through: the call's session, its backoffice and its rules.

Built by :class:`~agent_tools.runtime.ToolRuntime` for each tool call from the call
session in the database, so a tool webhook landing on any gateway process sees the
same identity state as the client tool running beside the call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from backoffice.calls.interface import SystemOfRecord
from backoffice.calls.models import CallRef
from backoffice.calls.policy import CallPolicy
from backoffice.calls.sessions import CallSession
from backoffice.messaging.providers import Messaging
from backoffice.orgs.models import Organization
from backoffice.store.db import Database


@dataclass(frozen=True, slots=True)
class CallScope:
    session: CallSession
    records: SystemOfRecord
    policy: CallPolicy
    org: Organization
    db: Database
    clock: Callable[[], dt.datetime]
    messaging: Messaging | None = None

    @property
    def call(self) -> CallRef:
        return self.session.ref()

    @property
    def language(self) -> str:
        return self.session.language or self.org.locale
