"""What an ElevenLabs workspace holds between conversations: agents, secrets, webhooks.

Why a plain in-process store: the stand-in's REST routes write it (``parley agent
sync`` creating or patching an agent, a secret, a webhook), and each new conversation
reads it, exactly as the service applies an agent's stored configuration to every
conversation opened with that ``agent_id``. Tests read it too, to check what a client
really sent (:attr:`StoredAgent.requests` keeps every raw body).

An agent's configuration is kept as the JSON the client sent, merged on ``PATCH``
(objects merge key by key, everything else, lists included, is replaced), because
that is what the service's partial update does and what a test wants to compare.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

#: Where a conversation override must be enabled (reference §2.1, §10).
OVERRIDES_PATH = ("platform_settings", "overrides", "conversation_config_override")


def new_id(prefix: str) -> str:
    """Ids shaped like the service's (``agent_`` + 26 characters)."""
    return f"{prefix}_{secrets.token_hex(13)}"


def merge(base: Json, patch: Mapping[str, Any]) -> Json:
    """``patch`` over ``base``: objects merge recursively, other values replace."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def dig(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, or None where a step is missing."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


@dataclass(slots=True)
class StoredAgent:
    agent_id: str
    name: str
    conversation_config: Json
    platform_settings: Json
    tags: list[str]
    created_at_unix_secs: int
    updated_at_unix_secs: int
    #: Every body received for this agent, in order: ("POST" | "PATCH", raw JSON).
    requests: list[tuple[str, Json]] = field(default_factory=list)

    # --- what a conversation reads -------------------------------------------------

    def tools(self) -> dict[str, Json]:
        """Inline tools (``conversation_config.agent.prompt.tools``) by name."""
        items = dig(self.conversation_config, "agent", "prompt", "tools") or []
        return {t["name"]: t for t in items if isinstance(t, dict) and "name" in t}

    @property
    def prompt(self) -> str:
        return str(dig(self.conversation_config, "agent", "prompt", "prompt") or "")

    @property
    def first_message(self) -> str | None:
        value = dig(self.conversation_config, "agent", "first_message")
        return value if isinstance(value, str) else None

    @property
    def language(self) -> str | None:
        value = dig(self.conversation_config, "agent", "language")
        return value if isinstance(value, str) else None

    @property
    def placeholders(self) -> dict[str, Any]:
        value = dig(
            self.conversation_config, "agent", "dynamic_variables", "dynamic_variable_placeholders"
        )
        return dict(value) if isinstance(value, dict) else {}

    @property
    def output_format(self) -> str | None:
        value = dig(self.conversation_config, "tts", "agent_output_audio_format")
        return value if isinstance(value, str) else None

    @property
    def input_format(self) -> str | None:
        value = dig(self.conversation_config, "asr", "user_input_audio_format")
        return value if isinstance(value, str) else None

    @property
    def enable_auth(self) -> bool:
        return dig(self.platform_settings, "auth", "enable_auth") is True

    @property
    def data_collection(self) -> dict[str, Json]:
        value = dig(self.platform_settings, "data_collection")
        return dict(value) if isinstance(value, dict) else {}

    @property
    def post_call_webhook_id(self) -> str | None:
        value = dig(
            self.platform_settings, "workspace_overrides", "webhooks", "post_call_webhook_id"
        )
        return value if isinstance(value, str) else None

    def override_allowed(self, path: tuple[str, ...]) -> bool:
        """Whether the override at ``path`` (e.g. ``("agent", "language")``) is enabled."""
        return dig(self.platform_settings, *OVERRIDES_PATH[1:], *path) is True

    def snapshot(self) -> StoredAgent:
        """A deep copy: a running conversation keeps the configuration it started with."""
        return copy.deepcopy(self)

    def as_json(self) -> Json:
        """The ``GET /v1/convai/agents/{id}`` body (``GetAgentResponseModel``)."""
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "conversation_config": self.conversation_config,
            "platform_settings": self.platform_settings,
            "metadata": {
                "created_at_unix_secs": self.created_at_unix_secs,
                "updated_at_unix_secs": self.updated_at_unix_secs,
            },
            "phone_numbers": [],
            "tags": self.tags,
        }

    def summary(self) -> Json:
        """One ``agents`` item of ``GET /v1/convai/agents`` (``AgentSummaryResponseModel``)."""
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "voice_id": str(dig(self.conversation_config, "tts", "voice_id") or ""),
            "tags": self.tags,
            "created_at_unix_secs": self.created_at_unix_secs,
            "updated_at_unix_secs": self.updated_at_unix_secs,
            "access_info": ACCESS_INFO,
            "archived": dig(self.platform_settings, "archived") is True,
        }


ACCESS_INFO: Json = {
    "is_creator": True,
    "creator_name": "Stand-in",
    "creator_email": "standin@example.invalid",
    "role": "admin",
}


@dataclass(frozen=True, slots=True)
class StoredSecret:
    secret_id: str
    name: str
    value: str


@dataclass(slots=True)
class StoredWebhook:
    """A workspace webhook (``POST /v1/workspace/webhooks``, HMAC auth)."""

    webhook_id: str
    name: str
    url: str
    secret: str
    request_headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Workspace:
    agents: dict[str, StoredAgent] = field(default_factory=dict)
    secrets: dict[str, StoredSecret] = field(default_factory=dict)
    webhooks: dict[str, StoredWebhook] = field(default_factory=dict)
    #: ``GET/PATCH /v1/convai/settings`` (``webhooks.post_call_webhook_id``, ``events``...).
    convai_settings: Json = field(default_factory=dict)

    def secret_value(self, secret_id: str) -> str | None:
        secret = self.secrets.get(secret_id)
        return None if secret is None else secret.value
