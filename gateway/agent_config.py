"""The ElevenLabs agent parley runs on, built from the tool registry and shipped config.

``parley agent sync`` sends this definition with the ``elevenlabs`` SDK (create, or
partial update of ``PARLEY_ELEVENLABS_AGENT_ID``); ``--dry-run`` prints it. What it
sets, and why (reference ``elevenlabs-convai.md`` §2.1, §6, §7, §10):

- the tools, one per registry entry: client tools (answered over the call's socket
  by the bridge) or, in ``webhook`` mode, server tools that ElevenLabs POSTs to
  ``{PUBLIC_URL}/tools/{name}`` with the secret header :data:`TOOL_SECRET_HEADER`
  (its value a workspace secret, never written into the agent) and a JSON body of
  the tool's parameters plus ``call_sid`` (dynamic variable) and ``conversation_id``
  (``system__conversation_id``). :data:`CLIENT_ONLY_TOOLS` stay client tools in both
  modes: hanging up must wait for the goodbye to play, which only the bridge knows;
- the system prompt (``config/agent_prompt.md``) and its dynamic variables, with
  placeholders (:data:`PROMPT_VARIABLES`): every one must also be in each call's
  init message, or the service refuses the conversation;
- first message and language defaults, and the overrides each call sends enabled
  (``agent.first_message``, ``agent.language``, ``tts.voice_id``): an override that
  is not enabled is refused;
- ``ulaw_8000`` in and out, so Twilio audio passes through untouched; a multilingual
  low-latency TTS model, since the language changes per call;
- the client events the bridge reads (tool calls and responses, corrections);
- the post-call analysis fields (:data:`DATA_COLLECTION`) that the post-call webhook
  reports back: contact result, disposition, sentiment, willingness to pay (1-5) and
  cooperation;
- a private agent (signed URLs only).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from agent_tools.registry import Tool, ToolRegistry
from backoffice.calls.outcomes import CONTACT_RESULTS, COOPERATION, DISPOSITIONS, SENTIMENTS
from config import defaults
from gateway.agent_tool_schema import SchemaError, elevenlabs_parameters

Json = dict[str, Any]
ToolMode = Literal["client", "webhook"]

TOOL_SECRET_HEADER = "X-Parley-Tool-Secret"  # noqa: S105 - a header name
#: The workspace secret holding ``PARLEY_TOOL_SECRET`` on the ElevenLabs side.
TOOL_SECRET_NAME = "parley_tool_secret"  # noqa: S105 - a secret's name
CLIENT_ONLY_TOOLS = frozenset({"end_call"})
#: Webhook body fields parley adds to every server tool call: field -> dynamic variable.
WEBHOOK_CONTEXT = {"call_sid": "call_sid", "conversation_id": "system__conversation_id"}
AGENT_NAME = "parley collections"
AGENT_TAGS = ("parley",)
TTS_MODEL = "eleven_flash_v2_5"
AUDIO_FORMAT = "ulaw_8000"

#: Dynamic variables the prompt uses, with the placeholder the agent stores for each
#: (shown in the ElevenLabs dashboard's tests). The gateway must send them all.
#: They are the ones every call carries, known caller or not (the account's amounts and
#: dates are not among them: the agent learns those from ``lookup_account`` once the
#: identity is verified, so nothing about the debt is in its context before that).
PROMPT_VARIABLES: dict[str, str] = {
    "org_name": "Parley Finance",
    "debtor_first_name": "Ana",
    "language": "es",
    "call_direction": "outbound",
    "call_notes": "none",
}

CLIENT_EVENTS = (
    "conversation_initiation_metadata",
    "ping",
    "audio",
    "interruption",
    "user_transcript",
    "tentative_user_transcript",
    "agent_response",
    "agent_response_correction",
    "client_tool_call",
    "agent_tool_request",
    "agent_tool_response",
)


#: ``platform_settings.data_collection``: what the post-call analysis extracts.
DATA_COLLECTION: dict[str, Json] = {
    "contact_result": {
        "type": "string",
        "enum": list(CONTACT_RESULTS),
        "description": (
            "Who answered: right_party (the verified account holder), third_party (someone "
            "who knows them), wrong_number, voicemail, or no_contact."
        ),
    },
    "disposition": {
        "type": "string",
        "enum": list(DISPOSITIONS),
        "description": "The main outcome of the call, from the listed values.",
    },
    "sentiment": {
        "type": "string",
        "enum": list(SENTIMENTS),
        "description": "The caller's overall sentiment during the call.",
    },
    "willingness_to_pay": {
        "type": "integer",
        "description": (
            "How willing the account holder was to pay, from 1 (refuses) to 5 (committed to "
            "a payment). Leave empty if the account holder was not reached."
        ),
    },
    "cooperation": {
        "type": "string",
        "enum": list(COOPERATION),
        "description": "How cooperative the person was.",
    },
}


@dataclass(frozen=True, slots=True)
class AgentDefinition:
    """An agent create/update body, as plain JSON."""

    name: str
    tags: tuple[str, ...]
    conversation_config: Json
    platform_settings: Json

    def request_body(self) -> Json:
        """The JSON body of ``POST /v1/convai/agents/create`` and of the ``PATCH``."""
        return {
            "conversation_config": self.conversation_config,
            "platform_settings": self.platform_settings,
            "name": self.name,
            "tags": list(self.tags),
        }

    def tools(self) -> list[Json]:
        tools: list[Json] = self.conversation_config["agent"]["prompt"]["tools"]
        return tools


def load_prompt() -> str:
    """The shipped system prompt (``config/agent_prompt.md``)."""
    return (resources.files("config") / "agent_prompt.md").read_text(encoding="utf-8")


def client_tool(tool: Tool[Any]) -> Json:
    """The ``type: client`` tool definition, parameters in ElevenLabs' dialect.

    Raises:
        SchemaError: a parameter type ElevenLabs cannot express (names the field).
    """
    definition = tool.client_tool_schema()
    definition["parameters"] = elevenlabs_parameters(definition["parameters"], tool=tool.name)
    return definition


def webhook_tool(tool: Tool[Any], public_url: str, secret: str | Json) -> Json:
    """The ``type: webhook`` definition calling ``{public_url}/tools/{name}``.

    Args:
        secret: the :data:`TOOL_SECRET_HEADER` value: a workspace secret locator
            ``{"secret_id": ...}`` (what ``agent sync`` uses), or a plain string.

    Raises:
        SchemaError: as :func:`client_tool`, or a parameter named like a context field.
    """
    client = client_tool(tool)
    body = client["parameters"]
    for field, variable in WEBHOOK_CONTEXT.items():
        if field in body["properties"]:
            raise SchemaError(f"{tool.name}.{field}: the name is reserved for the call context")
        body["properties"][field] = {"type": "string", "dynamic_variable": variable}
    body["description"] = f"Parameters of {tool.name}, with the call it belongs to."
    return {
        "type": "webhook",
        "name": tool.name,
        "description": client["description"],
        # The service allows 5 s at least for webhook tools.
        "response_timeout_secs": max(5, client["response_timeout_secs"]),
        "api_schema": {
            "url": f"{public_url.rstrip('/')}/tools/{tool.name}",
            "method": "POST",
            "content_type": "application/json",
            "request_headers": {TOOL_SECRET_HEADER: secret},
            "request_body_schema": body,
        },
    }


def build_agent_definition(
    registry: ToolRegistry,
    *,
    tool_mode: ToolMode = "client",
    public_url: str | None = None,
    tool_secret: str | Json | None = None,
    language: str = defaults.DEFAULT_LANGUAGE,
    voice_id: str | None = None,
    name: str = AGENT_NAME,
) -> AgentDefinition:
    """The whole agent for ``registry``'s tools.

    Raises:
        ValueError: ``webhook`` mode without ``public_url`` or ``tool_secret``.
        SchemaError: a tool parameter that cannot be sent (names tool and field).
    """
    if tool_mode == "webhook" and (not public_url or tool_secret is None):
        raise ValueError("webhook tools need the public URL and the tool secret")
    tools: list[Json] = []
    for tool_name in registry.names():
        tool = registry.get(tool_name)
        if tool_mode == "webhook" and tool_name not in CLIENT_ONLY_TOOLS:
            assert public_url is not None
            assert tool_secret is not None
            tools.append(webhook_tool(tool, public_url, tool_secret))
        else:
            tools.append(client_tool(tool))
    placeholders = dict(PROMPT_VARIABLES)
    if tool_mode == "webhook":
        placeholders["call_sid"] = "CA" + "0" * 32
    base = defaults.base_language(language)
    tts: Json = {"model_id": TTS_MODEL, "agent_output_audio_format": AUDIO_FORMAT}
    voice = voice_id or defaults.VOICES.get(base)
    if voice:
        tts["voice_id"] = voice
    conversation_config: Json = {
        "agent": {
            "first_message": defaults.greeting_for(base),
            "language": base,
            "disable_first_message_interruptions": False,
            "dynamic_variables": {"dynamic_variable_placeholders": placeholders},
            "prompt": {"prompt": load_prompt(), "temperature": 0.3, "tools": tools},
        },
        "asr": {"user_input_audio_format": AUDIO_FORMAT},
        "tts": tts,
        "conversation": {"client_events": list(CLIENT_EVENTS)},
    }
    platform_settings: Json = {
        "auth": {"enable_auth": True},
        "overrides": {
            "conversation_config_override": {
                "agent": {"first_message": True, "language": True},
                "tts": {"voice_id": True},
            }
        },
        "data_collection": {key: dict(item) for key, item in DATA_COLLECTION.items()},
    }
    return AgentDefinition(name, AGENT_TAGS, conversation_config, platform_settings)
