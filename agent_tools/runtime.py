"""Running one tool call for a live call: session, identity gate, exactly-once, timeout.

The same path serves both ways a tool call arrives: as a ``client_tool_call`` on the
agent socket (the bridge's :class:`~gateway.effects.RunTool`) and as a server-tool
webhook (``POST /tools/{name}``). In order:

1. the call session is read from the database (any process may be asked), and must
   belong to the organization the call was placed for;
2. a tool that acts on the debt is refused until identity is verified, and a tool
   that needs an account is refused while an inbound caller is unmatched; those
   refusals are sentences the agent can say, not errors;
3. the handler runs once per ``tool_call_id`` (:mod:`backoffice.calls.ledger`): a
   repeat gets the first run's result, so a retried webhook registers one promise;
4. the registry bounds the handler by its timeout and turns any failure into a
   result (:meth:`~agent_tools.registry.ToolRegistry.dispatch` never raises).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import structlog

from agent_tools import speech
from agent_tools.registry import ToolContext, ToolRegistry, ToolResult
from agent_tools.scope import CallScope
from backoffice.calls import ledger
from backoffice.calls.records import RecordsResolver
from backoffice.calls.sessions import find_session
from backoffice.messaging.providers import Messaging
from backoffice.store.db import Database

log = structlog.get_logger(__name__)


class ToolRuntime:
    def __init__(
        self,
        registry: ToolRegistry,
        db: Database,
        resolver: RecordsResolver,
        clock: Callable[[], dt.datetime],
        messaging: Messaging | None = None,
    ) -> None:
        self.registry = registry
        self.db = db
        self.resolver = resolver
        self.clock = clock
        #: Senders for tools that message the debtor (set once the gateway has them).
        self.messaging = messaging

    async def run(
        self,
        name: str,
        parameters: dict[str, Any],
        *,
        org_id: str,
        call_sid: str,
        tool_call_id: str,
    ) -> ToolResult:
        """Never raises: every outcome is a result for the agent."""
        with self.db.short_statements():
            return await self._run(
                name, parameters, org_id=org_id, call_sid=call_sid, tool_call_id=tool_call_id
            )

    async def _run(
        self,
        name: str,
        parameters: dict[str, Any],
        *,
        org_id: str,
        call_sid: str,
        tool_call_id: str,
    ) -> ToolResult:
        try:
            tool = self.registry.get(name)
        except KeyError:
            return ToolResult(f"There is no tool called {name!r}.", is_error=True)
        if tool.standalone:
            plain = ToolContext(call_sid, org_id, "", tool_call_id)
            return await self.registry.dispatch(name, parameters, plain)
        try:
            scope = await self._scope(org_id, call_sid)
        except Exception:
            log.exception("tool.scope_failed", tool=name, call_sid=call_sid, org_id=org_id)
            return ToolResult(speech.UNAVAILABLE, is_error=True)
        if scope is None:
            log.warning("tool.unknown_call", tool=name, call_sid=call_sid[:64], org_id=org_id)
            return ToolResult("This call is not known to the account system.", is_error=True)
        session = scope.session
        if tool.requires_account and session.account_ref is None:
            return speech.refusal(speech.NO_ACCOUNT, "no_account")
        if tool.requires_identity and not session.verified:
            return speech.refusal(speech.NOT_VERIFIED, "identity_not_verified")
        ctx = ToolContext(
            call_sid=call_sid,
            org_id=org_id,
            account_id=session.account_ref or "",
            tool_call_id=tool_call_id,
            scope=scope,
        )
        if not tool.exactly_once:
            return await self.registry.dispatch(name, parameters, ctx)

        async def work() -> dict[str, Any]:
            result = await self.registry.dispatch(name, parameters, ctx)
            return result.to_record()

        try:
            record, ran_now = await ledger.run_once(
                self.db,
                org_id=org_id,
                call_sid=call_sid,
                tool_call_id=tool_call_id,
                tool=name,
                parameters=parameters,
                work=work,
                wait_s=tool.timeout_s or self.registry.default_timeout_s,
                atomic=scope.records.kind == "builtin" and not tool.calls_out,
            )
        except Exception:
            log.exception("tool.ledger_failed", tool=name, call_sid=call_sid, org_id=org_id)
            return ToolResult(speech.UNAVAILABLE, is_error=True)
        if not ran_now:
            log.info("tool.repeat", tool=name, call_sid=call_sid, tool_call_id=tool_call_id[:64])
        return ToolResult.from_record(record)

    async def _scope(self, org_id: str, call_sid: str) -> CallScope | None:
        session = await find_session(self.db, call_sid)
        if session is None or session.org_id != org_id:
            return None
        calls = await self.resolver.org_calls(org_id)
        return CallScope(
            session, calls.records, calls.policy, calls.org, self.db, self.clock, self.messaging
        )
