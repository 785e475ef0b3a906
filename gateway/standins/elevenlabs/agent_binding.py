"""How a stored agent's configuration shapes a conversation opened with its id.

The service applies the agent's stored configuration to every conversation
(reference §2.1, §6, §10), and so does the stand-in once an agent was created
through the REST API:

- an override in ``conversation_config_override`` must be enabled under
  ``platform_settings.overrides.conversation_config_override`` (else 1008
  ``override_error``, or ignored with ``strict_overrides=False``);
- every ``{{variable}}`` of the prompt and first message, and every dynamic variable
  a webhook tool uses, must come with the init message (else 1008
  ``missing_dynamic_variable``); ``system__*`` variables are the service's own;
- a tool the script calls is run as the agent defines it (``client`` over the
  socket, ``webhook`` as an HTTP call); one the agent does not define is an error.

Without a stored agent nothing here applies and the stand-in behaves as before:
every tool is a client tool and every override is accepted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from gateway.standins.elevenlabs.options import AgentOptions
from gateway.standins.elevenlabs.script import references
from gateway.standins.elevenlabs.server_tools import dynamic_references
from gateway.standins.elevenlabs.workspace import StoredAgent

Json = dict[str, Any]
SYSTEM_PREFIX = "system__"


def system_variables(conversation_id: str, agent_id: str, now: dt.datetime) -> dict[str, Any]:
    """The ``system__*`` dynamic variables of a custom-bridge conversation.

    Telephony ones (``system__caller_id``, ``system__call_sid``...) are empty: the
    service only knows them for its own phone numbers (reference §11.11).
    """
    return {
        "system__conversation_id": conversation_id,
        "system__agent_id": agent_id,
        "system__current_agent_id": agent_id,
        "system__time_utc": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "system__call_duration_secs": 0,
        "system__caller_id": "",
        "system__called_number": "",
        "system__call_sid": "",
        "system__is_text_only": False,
    }


def override_violations(agent: StoredAgent, override: Mapping[str, Any]) -> list[str]:
    """Dotted paths of the overrides sent that the agent does not enable."""
    refused: list[str] = []

    def walk(prefix: tuple[str, ...], value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk((*prefix, str(key)), item)
        elif value is not None and len(prefix) > 1 and not agent.override_allowed(prefix):
            refused.append(".".join(prefix))

    for section, value in override.items():
        if isinstance(value, Mapping):  # a top-level scalar (the SDK's text_only) is no override
            walk((str(section),), value)
    return refused


def required_variables(agent: StoredAgent, first_message: str) -> set[str]:
    """Variables the prompt, the first message and the webhook tools refer to."""
    names = references(agent.prompt) | references(first_message)
    for tool in agent.tools().values():
        if tool.get("type") == "webhook":
            names |= dynamic_references(tool)
    return {name for name in names if not name.startswith(SYSTEM_PREFIX)}


def missing_variables(
    agent: StoredAgent, first_message: str, sent: Mapping[str, Any], options: AgentOptions
) -> list[str]:
    provided = set(sent)
    if options.placeholders_fill_missing:
        provided |= set(agent.placeholders)
    return sorted(required_variables(agent, first_message) - provided)


def tool_definition(
    name: str, options: AgentOptions, agent: StoredAgent | None
) -> Mapping[str, Any] | None:
    """The tool ``name`` as configured: ``options.webhook_tools`` first, then the agent.

    None means "not defined": with a stored agent that is an error; without one
    the stand-in treats every tool as a client tool.
    """
    if name in options.webhook_tools:
        return {"type": "webhook", "name": name, **options.webhook_tools[name]}
    if agent is not None:
        return agent.tools().get(name)
    return None
