"""The agent's tools on a remote system of record, through the real runtime.

The resolver picks the organization's partner from its stored settings, the runtime
keeps identity and exactly-once in parley, and the partner stand-in answers over
signed HTTP. What the agent reads back is what a caller would hear.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from agent_tools.catalog import default_registry
from agent_tools.registry import TIMEOUT_RESULT, ToolResult
from agent_tools.runtime import ToolRuntime
from backoffice.calls.models import CallRef
from backoffice.calls.records import RecordsResolver
from backoffice.calls.sessions import find_session, open_session
from backoffice.orgs.models import Organization
from backoffice.store.db import Database
from gateway.standins.partner_records import PartnerRecords
from tests.backoffice.calls.backends import (
    TODAY,
    RemoteBackend,
    clock,
    make_remote_org,
    remote_factory_for,
    running_partner,
)


@dataclass
class Line:
    """One call on the line, whose tools the test calls as the agent would."""

    runtime: ToolRuntime
    org: Organization
    call: CallRef
    partner: PartnerRecords
    db: Database

    async def tool(self, name: str, tool_call_id: str, **parameters: Any) -> ToolResult:
        return await self.runtime.run(
            name,
            parameters,
            org_id=self.org.id,
            call_sid=self.call.call_sid,
            tool_call_id=tool_call_id,
        )


def said(result: ToolResult) -> dict[str, Any]:
    body = orjson.loads(result.text)
    assert isinstance(body, dict)
    return body


@pytest.fixture
async def line(db: Database) -> AsyncIterator[Line]:
    async with running_partner() as partner, remote_factory_for(db) as factory:
        org = await make_remote_org(db, partner, timeout_s=0.3, retries=1)
        call = await RemoteBackend(db, org, partner, factory).seed()
        await open_session(
            db,
            org_id=org.id,
            call_sid=call.call_sid,
            direction="outbound",
            account_ref=call.account_ref,
            contact_id=call.contact_id,
            number=call.number,
            language="en-US",
        )
        runtime = ToolRuntime(
            default_registry(), db, RecordsResolver(db, clock, remote=factory), clock
        )
        yield Line(runtime, org, call, partner, db)


async def test_a_verified_caller_promises_once_on_the_partners_account(line: Line) -> None:
    early = await line.tool("lookup_account", "t1")
    assert said(early)["reason"] == "identity_not_verified"
    assert not [r for r in line.partner.requests if r.target.endswith("/balance")]
    wrong = await line.tool("verify_identity", "t2", document_last4="1111")
    assert said(wrong)["reason"] == "no_match"
    assert said(await line.tool("verify_identity", "t3", document_last4="4321"))["ok"] is True
    balance = said(await line.tool("lookup_account", "t4"))
    assert balance["pending_balance"] == "$250.00"
    assert balance["breakdown"]["fees"] == "$20.00"
    due = (TODAY + dt.timedelta(days=7)).isoformat()
    promised = await line.tool("register_promise", "t5", amount="120.00", date=due)
    assert said(promised)["ok"] is True
    repeat = await line.tool("register_promise", "t5", amount="120.00", date=due)
    assert repeat.text == promised.text  # a repeated tool call: one promise, same answer
    assert line.call.account_ref is not None
    assert len(line.partner.account(line.call.account_ref).promises) == 1
    too_much = said(await line.tool("register_promise", "t6", amount="999.00", date=due))
    assert (too_much["ok"], too_much["reason"]) == (False, "above_balance")


async def test_a_partner_outage_is_spoken_and_costs_no_identity_attempt(line: Line) -> None:
    await line.partner.go_down()
    result = await line.tool("verify_identity", "t1", document_last4="4321")
    assert result.is_error and result.text == TIMEOUT_RESULT
    session = await find_session(line.db, line.call.call_sid)
    assert session is not None
    assert (session.identity_state, session.identity_failures) == ("unverified", 0)
    await line.partner.come_back()
    assert said(await line.tool("verify_identity", "t2", document_last4="4321"))["ok"]
    line.partner.write_latency_s = 3.0
    due = (TODAY + dt.timedelta(days=3)).isoformat()
    slow = said(await line.tool("register_promise", "t3", amount="50.00", date=due))
    assert (slow["ok"], slow["reason"]) == (False, "unavailable")
    assert "confirmed by message" in slow["message"]
