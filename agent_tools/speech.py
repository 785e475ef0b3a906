"""Tool results as the agent reads them: one JSON object with a sentence and facts.

Why JSON: the agent's language model reads the result; a ``message`` in plain
English says what to tell the caller, and the fields beside it (amounts already
formatted for the call's language, ISO dates) let it answer follow-up questions
without another tool call. Amounts are formatted with babel for the call's locale,
so "1.250,50 €" reaches a Spanish caller and "$1,250.50" an American one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
from babel.dates import format_date
from babel.numbers import format_currency

from agent_tools.registry import TIMEOUT_RESULT, ToolResult
from backoffice.calls.models import ActionResult, ActionStatus

NOT_VERIFIED = (
    "The caller's identity is not verified yet. Do not reveal or discuss the debt, the "
    "balance or the reason for the call. Ask for the last four digits of their document "
    "and call verify_identity first."
)
NO_ACCOUNT = (
    "This call is not linked to an account yet. Ask the caller to verify their identity "
    "(verify_identity) or, for several accounts, which one they are calling about."
)
UNAVAILABLE = TIMEOUT_RESULT


def _locale(language: str) -> str:
    return language.replace("-", "_")


def money(amount: Decimal, currency: str, language: str) -> str:
    try:
        return format_currency(amount, currency, locale=_locale(language))
    except (ValueError, LookupError):
        return f"{amount} {currency}"


def day(value: dt.date, language: str) -> str:
    try:
        return format_date(value, format="long", locale=_locale(language))
    except (ValueError, LookupError):
        return value.isoformat()


def reply(message: str, *, ok: bool = True, **facts: Any) -> ToolResult:
    body = {"ok": ok, "message": message, **facts}
    return ToolResult(orjson.dumps(body, default=str).decode())


def refusal(message: str, reason: str, **facts: Any) -> ToolResult:
    return reply(message, ok=False, reason=reason, **facts)


def from_action(result: ActionResult) -> ToolResult:
    """An action's answer as a tool result: refusals and outages are not tool errors
    (the agent has something true to say), only a crash is."""
    if result.status is ActionStatus.DONE:
        return reply(result.message, **result.data)
    if result.status is ActionStatus.UNAVAILABLE:
        return refusal(result.message or UNAVAILABLE, "unavailable")
    return refusal(result.message, result.reason, **result.data)
