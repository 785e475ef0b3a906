"""ElevenLabs ConvAI websocket messages: parsing server events, building client ones.

Reference: ``shared/reference/elevenlabs-convai.md`` §2-§3. Every server frame is a
JSON object with a ``type`` and a per-type payload object. :func:`parse` returns a
frozen event, :class:`Ignored` for event types the bridge has no use for (the service
adds new ones over time), or raises :class:`ProtocolError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.protocol_error import ProtocolError

PEER = "elevenlabs"


@dataclass(frozen=True, slots=True)
class InitiationMetadata:
    conversation_id: str
    output_format: str
    input_format: str


@dataclass(frozen=True, slots=True)
class Audio:
    audio_b64: str
    event_id: int


@dataclass(frozen=True, slots=True)
class AgentResponse:
    text: str
    event_id: int


@dataclass(frozen=True, slots=True)
class AgentResponseCorrection:
    original: str
    corrected: str
    event_id: int


@dataclass(frozen=True, slots=True)
class UserTranscript:
    text: str
    event_id: int
    tentative: bool = False


@dataclass(frozen=True, slots=True)
class Interruption:
    event_id: int


@dataclass(frozen=True, slots=True)
class Ping:
    event_id: int
    ping_ms: int | None


@dataclass(frozen=True, slots=True)
class ClientToolCall:
    tool_name: str
    tool_call_id: str
    parameters: dict[str, Any]
    event_id: int


@dataclass(frozen=True, slots=True)
class AgentToolResponse:
    tool_name: str
    tool_call_id: str
    tool_type: str
    is_error: bool


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Ignored:
    type: str


AgentEvent = (
    InitiationMetadata
    | Audio
    | AgentResponse
    | AgentResponseCorrection
    | UserTranscript
    | Interruption
    | Ping
    | ClientToolCall
    | AgentToolResponse
    | ErrorEvent
    | Ignored
)


def _payload(msg: dict[str, Any], key: str) -> dict[str, Any]:
    value = msg.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(PEER, key, "missing or not an object")
    return value


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ProtocolError(PEER, f"{where}.{key}", "missing or not a string")
    return value


def _event_id(obj: dict[str, Any], where: str, *, required: bool = True) -> int:
    value = obj.get("event_id")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value is None and not required:
        return 0
    raise ProtocolError(PEER, f"{where}.event_id", "missing or not an integer")


def _audio(msg: dict[str, Any]) -> Audio:
    p = _payload(msg, "audio_event")
    return Audio(_str(p, "audio_base_64", "audio_event"), _event_id(p, "audio_event"))


def _metadata(msg: dict[str, Any]) -> InitiationMetadata:
    where = "conversation_initiation_metadata_event"
    p = _payload(msg, where)
    return InitiationMetadata(
        conversation_id=_str(p, "conversation_id", where),
        output_format=_str(p, "agent_output_audio_format", where),
        input_format=_str(p, "user_input_audio_format", where),
    )


def _tool_call(msg: dict[str, Any]) -> ClientToolCall:
    p = _payload(msg, "client_tool_call")
    params = p.get("parameters")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError(PEER, "client_tool_call.parameters", "not an object")
    return ClientToolCall(
        tool_name=_str(p, "tool_name", "client_tool_call"),
        tool_call_id=_str(p, "tool_call_id", "client_tool_call"),
        parameters=params,
        event_id=_event_id(p, "client_tool_call", required=False),
    )


def _tool_response(msg: dict[str, Any]) -> AgentToolResponse:
    p = _payload(msg, "agent_tool_response")
    return AgentToolResponse(
        tool_name=_str(p, "tool_name", "agent_tool_response"),
        tool_call_id=str(p.get("tool_call_id", "")),
        tool_type=str(p.get("tool_type", "")),
        is_error=bool(p.get("is_error", False)),
    )


def _ping(msg: dict[str, Any]) -> Ping:
    p = _payload(msg, "ping_event")
    ping_ms = p.get("ping_ms")
    return Ping(_event_id(p, "ping_event"), ping_ms if isinstance(ping_ms, int) else None)


def _transcript(msg: dict[str, Any], key: str, tentative: bool) -> UserTranscript:
    p = _payload(msg, key)
    return UserTranscript(
        _str(p, "user_transcript", key), _event_id(p, key, required=False), tentative
    )


def _agent_response(msg: dict[str, Any]) -> AgentResponse:
    p = _payload(msg, "agent_response_event")
    return AgentResponse(
        _str(p, "agent_response", "agent_response_event"),
        _event_id(p, "agent_response_event", required=False),
    )


def _correction(msg: dict[str, Any]) -> AgentResponseCorrection:
    where = "agent_response_correction_event"
    p = _payload(msg, where)
    return AgentResponseCorrection(
        original=_str(p, "original_agent_response", where),
        corrected=_str(p, "corrected_agent_response", where),
        event_id=_event_id(p, where, required=False),
    )


def _error(msg: dict[str, Any]) -> ErrorEvent:
    p = msg.get("error_event")
    if not isinstance(p, dict):
        p = {}
    return ErrorEvent(str(p.get("code", "")), str(p.get("message", p.get("reason", ""))))


def _interruption(msg: dict[str, Any]) -> Interruption:
    return Interruption(_event_id(_payload(msg, "interruption_event"), "interruption_event"))


def _final_transcript(msg: dict[str, Any]) -> UserTranscript:
    return _transcript(msg, "user_transcription_event", False)


def _tentative_transcript(msg: dict[str, Any]) -> UserTranscript:
    return _transcript(msg, "tentative_user_transcription_event", True)


_PARSERS: dict[str, Callable[[dict[str, Any]], AgentEvent]] = {
    "audio": _audio,
    "ping": _ping,
    "agent_response": _agent_response,
    "agent_response_correction": _correction,
    "user_transcript": _final_transcript,
    "tentative_user_transcript": _tentative_transcript,
    "interruption": _interruption,
    "client_tool_call": _tool_call,
    "agent_tool_response": _tool_response,
    "conversation_initiation_metadata": _metadata,
    "error": _error,
}


def parse(text: str | bytes | bytearray | memoryview) -> AgentEvent:
    """Parse one server frame.

    Returns:
        The matching event, or :class:`Ignored` for a well-formed event type the
        bridge does not act on (``vad_score``, ``agent_chat_response_part``, ...).

    Raises:
        ProtocolError: not a JSON object, no ``type``, or a payload field missing.
    """
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ProtocolError(PEER, "frame", "not valid JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolError(PEER, "frame", "not a JSON object")
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(PEER, "type", "missing or not a string")
    parser = _PARSERS.get(kind)
    if parser is None:
        return Ignored(kind)
    return parser(msg)


def user_audio_message(audio_b64: str) -> str:
    """Build a ``user_audio_chunk`` frame (no ``type`` key, per the spec)."""
    return '{"user_audio_chunk":"' + audio_b64 + '"}'


def pong_message(event_id: int) -> str:
    return '{"type":"pong","event_id":' + str(int(event_id)) + "}"


def tool_result_message(tool_call_id: str, result: str, *, is_error: bool) -> str:
    return orjson.dumps(
        {
            "type": "client_tool_result",
            "tool_call_id": tool_call_id,
            "result": result,
            "is_error": is_error,
        }
    ).decode()


def contextual_update_message(text: str) -> str:
    return orjson.dumps({"type": "contextual_update", "text": text}).decode()


def initiation_message(
    *,
    dynamic_variables: dict[str, str | int | float | bool],
    config_override: dict[str, Any],
    user_id: str | None = None,
) -> str:
    """Build ``conversation_initiation_client_data`` (the first frame we send)."""
    msg: dict[str, Any] = {
        "type": "conversation_initiation_client_data",
        "dynamic_variables": dynamic_variables,
        "conversation_config_override": config_override,
    }
    if user_id:
        msg["user_id"] = user_id
    return orjson.dumps(msg).decode()
