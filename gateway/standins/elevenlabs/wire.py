"""The ConvAI websocket messages, as the service writes and reads them.

Why a module of its own: this is the contract under test. Server events are built
exactly in the reference shapes (``elevenlabs-convai.md`` §3-4): a ``type`` plus one
payload object named per type. Client messages (§2) are checked as strictly as the
service does: a message that is not JSON, has an unknown ``type`` or lacks a required
field raises :class:`ClientMessageError`, which the session turns into an ``error``
event and a close with 1008.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

Json = dict[str, Any]

# --- server -> client -------------------------------------------------------------


def initiation_metadata(conversation_id: str, output_format: str, input_format: str) -> Json:
    return {
        "type": "conversation_initiation_metadata",
        "conversation_initiation_metadata_event": {
            "conversation_id": conversation_id,
            "agent_output_audio_format": output_format,
            "user_input_audio_format": input_format,
        },
    }


def audio(chunk: bytes, event_id: int) -> Json:
    return {
        "type": "audio",
        "audio_event": {
            "audio_base_64": base64.b64encode(chunk).decode("ascii"),
            "event_id": event_id,
        },
    }


def agent_response(text: str, event_id: int) -> Json:
    return {
        "type": "agent_response",
        "agent_response_event": {"agent_response": text, "event_id": event_id},
    }


def agent_response_correction(original: str, corrected: str, event_id: int) -> Json:
    return {
        "type": "agent_response_correction",
        "agent_response_correction_event": {
            "original_agent_response": original,
            "corrected_agent_response": corrected,
            "event_id": event_id,
        },
    }


def user_transcript(text: str, event_id: int) -> Json:
    return {
        "type": "user_transcript",
        "user_transcription_event": {"user_transcript": text, "event_id": event_id},
    }


def tentative_user_transcript(text: str, event_id: int) -> Json:
    return {
        "type": "tentative_user_transcript",
        "tentative_user_transcription_event": {"user_transcript": text, "event_id": event_id},
    }


def interruption(event_id: int) -> Json:
    return {"type": "interruption", "interruption_event": {"event_id": event_id}}


def ping(event_id: int, ping_ms: int | None) -> Json:
    return {"type": "ping", "ping_event": {"event_id": event_id, "ping_ms": ping_ms}}


def client_tool_call(tool_name: str, tool_call_id: str, parameters: Any, event_id: int) -> Json:
    return {
        "type": "client_tool_call",
        "client_tool_call": {
            "tool_name": tool_name,
            "tool_call_id": tool_call_id,
            "parameters": parameters,
            "event_id": event_id,
        },
    }


def agent_tool_request(tool_name: str, tool_call_id: str, tool_type: str, event_id: int) -> Json:
    return {
        "type": "agent_tool_request",
        "agent_tool_request": {
            "tool_name": tool_name,
            "tool_call_id": tool_call_id,
            "tool_type": tool_type,
            "event_id": event_id,
        },
    }


def agent_tool_response(
    tool_name: str, tool_call_id: str, tool_type: str, *, is_error: bool, event_id: int
) -> Json:
    return {
        "type": "agent_tool_response",
        "agent_tool_response": {
            "tool_name": tool_name,
            "tool_call_id": tool_call_id,
            "tool_type": tool_type,
            "is_error": is_error,
            "is_called": True,
            "event_id": event_id,
        },
    }


def vad_score(score: float) -> Json:
    return {"type": "vad_score", "vad_score_event": {"vad_score": round(score, 3)}}


def error(code: int, error_type: str, message: str) -> Json:
    return {
        "type": "error",
        "error_event": {
            "code": code,
            "message": message,
            "error_type": error_type,
            "reason": message,
            "debug_message": None,
            "details": None,
        },
    }


def dumps(event: Json) -> str:
    return orjson.dumps(event).decode("utf-8")


# --- client -> server -------------------------------------------------------------


class ClientMessageError(Exception):
    """A client message the service would refuse (error event + close 1008)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True, slots=True)
class InitiationData:
    dynamic_variables: dict[str, str | int | float | bool]
    override: Json
    raw: Json

    def agent_override(self, key: str) -> Any:
        agent = self.override.get("agent")
        return agent.get(key) if isinstance(agent, dict) else None


@dataclass(frozen=True, slots=True)
class AudioChunk:
    data: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    event_id: int


@dataclass(frozen=True, slots=True)
class ToolResult:
    tool_call_id: str
    result: Any
    is_error: bool


@dataclass(frozen=True, slots=True)
class ContextualUpdate:
    text: str


@dataclass(frozen=True, slots=True)
class UserMessage:
    text: str


@dataclass(frozen=True, slots=True)
class UserActivity:
    pass


@dataclass(frozen=True, slots=True)
class OtherMessage:
    """A valid message the stand-in records but does not act on (feedback, MCP, ...)."""

    type: str
    body: Json = field(default_factory=dict)


ClientMessage = (
    InitiationData
    | AudioChunk
    | Pong
    | ToolResult
    | ContextualUpdate
    | UserMessage
    | UserActivity
    | OtherMessage
)

#: Valid types the stand-in accepts without acting on them.
PASSIVE_TYPES = frozenset({"feedback", "multimodal_message", "mcp_tool_approval_result"})


def message_type(msg: ClientMessage) -> str:
    """The wire name of a parsed message (``user_audio_chunk`` for audio)."""
    names: dict[type, str] = {
        InitiationData: "conversation_initiation_client_data",
        AudioChunk: "user_audio_chunk",
        Pong: "pong",
        ToolResult: "client_tool_result",
        ContextualUpdate: "contextual_update",
        UserMessage: "user_message",
        UserActivity: "user_activity",
    }
    return msg.type if isinstance(msg, OtherMessage) else names[type(msg)]


def parse_client_message(text: str | bytes) -> ClientMessage:
    """Parse one client frame or raise :class:`ClientMessageError`."""
    if isinstance(text, bytes):
        raise ClientMessageError("invalid_message", "Binary frames are not supported")
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ClientMessageError("invalid_message", f"Invalid JSON: {exc}") from exc
    if not isinstance(msg, dict):
        raise ClientMessageError("invalid_message", "Message must be a JSON object")
    kind = msg.get("type")
    if kind is None and "user_audio_chunk" in msg:
        return AudioChunk(_b64(msg["user_audio_chunk"]))
    if not isinstance(kind, str):
        raise ClientMessageError("missing_fields", "Message has no 'type'")
    parser = _PARSERS.get(kind)
    if parser is not None:
        return parser(msg)
    if kind in PASSIVE_TYPES:
        return OtherMessage(kind, msg)
    raise ClientMessageError("invalid_message", f"Unknown message type: {kind!r}")


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ClientMessageError("invalid_message", "user_audio_chunk must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ClientMessageError("invalid_message", f"user_audio_chunk: {exc}") from exc


def _field(msg: Json, key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in msg:
        raise ClientMessageError("missing_fields", f"{msg.get('type')}: missing field '{key}'")
    value = msg[key]
    if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
        raise ClientMessageError("value_error", f"{msg.get('type')}: bad type for '{key}'")
    return value


def _init(msg: Json) -> InitiationData:
    variables = msg.get("dynamic_variables") or {}
    if not isinstance(variables, dict):
        raise ClientMessageError("value_error", "dynamic_variables must be an object")
    for key, value in variables.items():
        if not isinstance(value, str | int | float | bool):
            raise ClientMessageError(
                "value_error", f"dynamic_variables.{key}: must be a string, number or boolean"
            )
    override = msg.get("conversation_config_override") or {}
    if not isinstance(override, dict):
        raise ClientMessageError("value_error", "conversation_config_override must be an object")
    return InitiationData(dict(variables), override, msg)


def _pong(msg: Json) -> Pong:
    return Pong(_field(msg, "event_id", int))


def _tool_result(msg: Json) -> ToolResult:
    call_id = _field(msg, "tool_call_id", str)
    if "result" not in msg:
        raise ClientMessageError("missing_fields", "client_tool_result: missing field 'result'")
    is_error = msg.get("is_error", False)
    if not isinstance(is_error, bool):
        raise ClientMessageError("value_error", "client_tool_result: is_error must be a boolean")
    return ToolResult(call_id, msg["result"], is_error)


def _contextual(msg: Json) -> ContextualUpdate:
    return ContextualUpdate(_field(msg, "text", str))


def _user_message(msg: Json) -> UserMessage:
    text = msg.get("text")
    if text is not None and not isinstance(text, str):
        raise ClientMessageError("value_error", "user_message: text must be a string")
    return UserMessage(text or "")


_PARSERS: dict[str, Callable[[Json], ClientMessage]] = {
    "conversation_initiation_client_data": _init,
    "pong": _pong,
    "client_tool_result": _tool_result,
    "contextual_update": _contextual,
    "user_message": _user_message,
    "user_activity": lambda msg: UserActivity(),
}
