"""What the agent is told about a call when its conversation starts.

The opening mode decides who speaks first. With ``callee_first`` (the default for
outbound collections: a person answering says "hello" before anything else) the
agent's ``first_message`` is overridden with an empty string, which makes the agent
wait for the caller; with ``agent_first`` it gets a greeting in the call's language.
Every override sent must be enabled on the agent (reference ``elevenlabs-convai.md``
§2.1); ``parley agent sync`` enables these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from config import defaults
from gateway import agent_events

DynamicValue = str | int | float | bool


class OpeningMode(enum.StrEnum):
    CALLEE_FIRST = "callee_first"
    AGENT_FIRST = "agent_first"


@dataclass(frozen=True, slots=True)
class CallContext:
    """Per-call facts the agent session is opened with (no secrets, no full documents)."""

    call_sid: str
    org_id: str
    account_id: str
    direction: str
    opening_mode: OpeningMode = OpeningMode.CALLEE_FIRST
    language: str = defaults.DEFAULT_LANGUAGE
    voice_id: str | None = None
    first_message: str | None = None
    dynamic_variables: dict[str, DynamicValue] = field(default_factory=dict)


def opening_mode_for(
    *,
    per_call: OpeningMode | None = None,
    step: OpeningMode | None = None,
    strategy: OpeningMode | None = None,
    organization: OpeningMode | str | None = None,
) -> OpeningMode:
    """Who speaks first: the most specific choice wins (call, step, strategy, org)."""
    for choice in (per_call, step, strategy, organization):
        if choice is not None:
            return OpeningMode(choice)
    return OpeningMode.CALLEE_FIRST


def voice_for(language: str, org_voice: str | None) -> str | None:
    """The agent's voice: the organization's (its voice for this language, else its
    default voice: :meth:`CallPolicy.voice_for`), else the shipped voice for the locale
    (``es-MX``, then ``es``), else None (the agent's own voice, chosen automatically)."""
    if org_voice:
        return org_voice
    return defaults.VOICES.get(language) or defaults.VOICES.get(defaults.base_language(language))


def initiation_for(context: CallContext, *, resume: bool = False) -> str:
    """Build the ``conversation_initiation_client_data`` frame for a call.

    Args:
        context: the call's facts.
        resume: True when reconnecting mid-call: the agent must not greet again.
    """
    variables: dict[str, DynamicValue] = {
        "org_name": context.org_id,
        "debtor_first_name": "",
        **context.dynamic_variables,
        "call_sid": context.call_sid,
        "account_id": context.account_id,
        "call_direction": context.direction,
    }
    if resume or context.opening_mode is OpeningMode.CALLEE_FIRST:
        first_message = ""
    else:
        first_message = context.first_message or defaults.greeting_for(
            context.language, inbound=context.direction == "inbound"
        )
    agent: dict[str, Any] = {
        "first_message": first_message,
        "language": defaults.base_language(context.language),
    }
    override: dict[str, Any] = {"agent": agent}
    voice = context.voice_id or voice_for(context.language, None)
    if voice:
        override["tts"] = {"voice_id": voice}
    return agent_events.initiation_message(
        dynamic_variables=variables,
        config_override=override,
        user_id=context.account_id or None,
    )
