"""gateway.agent_events: ConvAI server events in, client frames out.

Reference: elevenlabs-convai.md §2 (client -> server) and §3 (server -> client).
"""

import json
from typing import Any

import pytest

from gateway import agent_events as ae
from gateway.protocol_error import ProtocolError
from tests.gateway.bridge_helpers import (
    CONVERSATION_ID,
    agent_audio,
    agent_error,
    agent_interruption,
    agent_metadata,
    agent_ping,
    agent_response,
    agent_response_correction,
    agent_tool_response,
    b64,
    client_tool_call,
    tagged,
    user_transcript,
    vad_score,
)
from tests.gateway.parser_variants import variants

AUDIO = b64(tagged(1, 2, 3))

REAL_FRAMES = [
    agent_metadata(input_format="ulaw_8000", output_format="pcm_16000"),
    agent_audio(AUDIO, 3),
    agent_ping(12, 80),
    agent_interruption(4),
    agent_response("Hello Ann, this is Acme.", 1),
    agent_response_correction("Hello Ann, this is Acme.", "Hello Ann,", 1),
    user_transcript("I can pay on Friday", 2),
    user_transcript("I can", 2, tentative=True),
    client_tool_call("record_promise", "tc_9", {"amount": 50, "date": "2025-07-04"}, 3),
    agent_tool_response("end_call", "tc_10", event_id=5),
    agent_error("llm_timeout", "The LLM did not answer in time"),
    vad_score(0.83),
]


def error_of(text: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        ae.parse(text)
    return caught.value


# ------------------------------------------------------------ every event
def test_initiation_metadata_gives_both_formats() -> None:
    event = ae.parse(agent_metadata(input_format="ulaw_8000", output_format="pcm_16000"))
    assert event == ae.InitiationMetadata(
        conversation_id=CONVERSATION_ID, output_format="pcm_16000", input_format="ulaw_8000"
    )


def test_audio_keeps_the_base64_text() -> None:
    assert ae.parse(agent_audio(AUDIO, 3)) == ae.Audio(AUDIO, 3)


def test_audio_with_alignment_is_accepted() -> None:
    msg = json.loads(agent_audio(AUDIO, 3))
    msg["audio_event"]["alignment"] = {"chars": ["H"], "char_start_times_ms": [0]}
    assert ae.parse(json.dumps(msg)) == ae.Audio(AUDIO, 3)


@pytest.mark.parametrize(("ping_ms", "expected"), [(80, 80), (None, None), ("80", None)])
def test_ping(ping_ms: Any, expected: int | None) -> None:
    msg = json.loads(agent_ping(12))
    msg["ping_event"]["ping_ms"] = ping_ms
    assert ae.parse(json.dumps(msg)) == ae.Ping(12, expected)


def test_interruption() -> None:
    assert ae.parse(agent_interruption(4)) == ae.Interruption(4)


def test_agent_response_and_its_correction() -> None:
    assert ae.parse(agent_response("Hello", 1)) == ae.AgentResponse("Hello", 1)
    assert ae.parse(agent_response_correction("Hello there", "Hello", 1)) == (
        ae.AgentResponseCorrection(original="Hello there", corrected="Hello", event_id=1)
    )


def test_event_id_is_optional_on_text_events() -> None:
    text = json.dumps({"type": "agent_response", "agent_response_event": {"agent_response": "Hi"}})
    assert ae.parse(text) == ae.AgentResponse("Hi", 0)


def test_final_and_tentative_transcripts() -> None:
    assert ae.parse(user_transcript("I can pay", 2)) == ae.UserTranscript("I can pay", 2, False)
    assert ae.parse(user_transcript("I can", 2, tentative=True)) == (
        ae.UserTranscript("I can", 2, True)
    )


def test_client_tool_call() -> None:
    event = ae.parse(client_tool_call("record_promise", "tc_9", {"amount": 50}, 3))
    assert event == ae.ClientToolCall("record_promise", "tc_9", {"amount": 50}, 3)


@pytest.mark.parametrize("parameters", ["missing", None])
def test_client_tool_call_without_parameters(parameters: str | None) -> None:
    msg = json.loads(client_tool_call("end_call", "tc_1", {}, 3))
    if parameters == "missing":
        del msg["client_tool_call"]["parameters"]
    else:
        msg["client_tool_call"]["parameters"] = None
    event = ae.parse(json.dumps(msg))
    assert isinstance(event, ae.ClientToolCall)
    assert event.parameters == {}


def test_agent_tool_response() -> None:
    event = ae.parse(agent_tool_response("end_call", "tc_10", tool_type="system", is_error=False))
    assert event == ae.AgentToolResponse("end_call", "tc_10", "system", False)


def test_agent_tool_response_needs_only_the_tool_name() -> None:
    text = json.dumps({"type": "agent_tool_response", "agent_tool_response": {"tool_name": "x"}})
    assert ae.parse(text) == ae.AgentToolResponse("x", "", "", False)


def test_error_event() -> None:
    assert ae.parse(agent_error("llm_timeout", "late")) == ae.ErrorEvent("llm_timeout", "late")
    reason_only = json.dumps({"type": "error", "error_event": {"reason": "override_error"}})
    assert ae.parse(reason_only) == ae.ErrorEvent("", "override_error")
    assert ae.parse('{"type":"error"}') == ae.ErrorEvent("", "")


@pytest.mark.parametrize(
    "kind",
    [
        "vad_score",
        "internal_tentative_agent_response",
        "agent_chat_response_part",
        "mcp_connection_status",
        "something_new_next_year",
    ],
)
def test_events_the_bridge_has_no_use_for_are_ignored(kind: str) -> None:
    assert ae.parse(json.dumps({"type": kind, "whatever": [1, 2]})) == ae.Ignored(kind)


def test_vad_score_is_ignored() -> None:
    assert ae.parse(vad_score(0.9)) == ae.Ignored("vad_score")


def test_bytes_are_parsed_like_text() -> None:
    assert ae.parse(agent_interruption(4).encode()) == ae.Interruption(4)


# ------------------------------------------------------------ bad frames
_DELETE = object()


def _mutate(text: str, path: list[str], value: Any) -> str:
    msg = json.loads(text)
    parent = msg
    for key in path[:-1]:
        parent = parent[key]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return json.dumps(msg)


META = agent_metadata()
META_EVENT = "conversation_initiation_metadata_event"
AUDIO_FRAME = agent_audio(AUDIO, 3)
TOOL = client_tool_call("record_promise", "tc_9", {"amount": 50}, 3)

BAD_FIELDS = [
    (AUDIO_FRAME, ["type"], _DELETE, "type"),
    (AUDIO_FRAME, ["type"], 7, "type"),
    (AUDIO_FRAME, ["type"], None, "type"),
    (AUDIO_FRAME, ["audio_event"], _DELETE, "audio_event"),
    (AUDIO_FRAME, ["audio_event"], AUDIO, "audio_event"),
    (AUDIO_FRAME, ["audio_event", "audio_base_64"], _DELETE, "audio_event.audio_base_64"),
    (AUDIO_FRAME, ["audio_event", "audio_base_64"], [AUDIO], "audio_event.audio_base_64"),
    (AUDIO_FRAME, ["audio_event", "event_id"], _DELETE, "audio_event.event_id"),
    (AUDIO_FRAME, ["audio_event", "event_id"], "3", "audio_event.event_id"),
    (AUDIO_FRAME, ["audio_event", "event_id"], True, "audio_event.event_id"),
    (AUDIO_FRAME, ["audio_event", "event_id"], 3.5, "audio_event.event_id"),
    (agent_ping(1), ["ping_event", "event_id"], _DELETE, "ping_event.event_id"),
    (agent_ping(1), ["ping_event"], [], "ping_event"),
    (
        agent_interruption(4),
        ["interruption_event", "event_id"],
        None,
        "interruption_event.event_id",
    ),
    (agent_interruption(4), ["interruption_event"], _DELETE, "interruption_event"),
    (META, [META_EVENT], _DELETE, META_EVENT),
    (META, [META_EVENT, "conversation_id"], 5, f"{META_EVENT}.conversation_id"),
    (
        META,
        [META_EVENT, "agent_output_audio_format"],
        _DELETE,
        f"{META_EVENT}.agent_output_audio_format",
    ),
    (META, [META_EVENT, "user_input_audio_format"], None, f"{META_EVENT}.user_input_audio_format"),
    (TOOL, ["client_tool_call", "tool_name"], _DELETE, "client_tool_call.tool_name"),
    (TOOL, ["client_tool_call", "tool_call_id"], 9, "client_tool_call.tool_call_id"),
    (TOOL, ["client_tool_call", "parameters"], [], "client_tool_call.parameters"),
    (TOOL, ["client_tool_call", "parameters"], "amount=50", "client_tool_call.parameters"),
    (TOOL, ["client_tool_call", "parameters"], 0, "client_tool_call.parameters"),
    (TOOL, ["client_tool_call", "event_id"], "3", "client_tool_call.event_id"),
    (
        agent_tool_response("end_call"),
        ["agent_tool_response", "tool_name"],
        _DELETE,
        "agent_tool_response.tool_name",
    ),
    (
        agent_response("Hi", 1),
        ["agent_response_event", "agent_response"],
        None,
        "agent_response_event.agent_response",
    ),
    (
        user_transcript("Hi", 1),
        ["user_transcription_event", "user_transcript"],
        _DELETE,
        "user_transcription_event.user_transcript",
    ),
    (
        user_transcript("Hi", 1, tentative=True),
        ["tentative_user_transcription_event"],
        _DELETE,
        "tentative_user_transcription_event",
    ),
    (
        agent_response_correction("a", "b", 1),
        ["agent_response_correction_event", "corrected_agent_response"],
        _DELETE,
        "agent_response_correction_event.corrected_agent_response",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "value", "field"),
    BAD_FIELDS,
    ids=[f"{'.'.join(p)}-{i}" for i, (_, p, _, _) in enumerate(BAD_FIELDS)],
)
def test_a_missing_or_wrong_field_is_named(
    text: str, path: list[str], value: Any, field: str
) -> None:
    error = error_of(_mutate(text, path, value))
    assert error.peer == "elevenlabs"
    assert error.field == field
    assert str(error).startswith(f"elevenlabs: {field}: ")


@pytest.mark.parametrize("text", ["", "{", "nope", b"\xc3\x28", '{"type":"ping",}', "[" * 5000])
def test_invalid_json(text: str | bytes) -> None:
    assert error_of(text).field == "frame"


@pytest.mark.parametrize("text", ["[]", '"ping"', "0", "null"])
def test_a_frame_that_is_not_an_object(text: str) -> None:
    assert error_of(text).field == "frame"


def test_any_input_gives_an_event_or_a_protocol_error() -> None:
    """Truncated, bit-flipped and retyped real frames never raise anything else."""
    kinds = (
        ae.InitiationMetadata,
        ae.Audio,
        ae.AgentResponse,
        ae.AgentResponseCorrection,
        ae.UserTranscript,
        ae.Interruption,
        ae.Ping,
        ae.ClientToolCall,
        ae.AgentToolResponse,
        ae.ErrorEvent,
        ae.Ignored,
    )
    outcomes = {"event": 0}
    errors: list[ProtocolError] = []
    for text in variants(REAL_FRAMES, seed=20250612, flips_per_frame=300):
        try:
            event = ae.parse(text)
        except ProtocolError as exc:
            errors.append(exc)
        else:
            assert isinstance(event, kinds)
            outcomes["event"] += 1
    assert outcomes["event"] > 100
    assert len(errors) > 1000
    assert all(error.peer == "elevenlabs" and error.field for error in errors)


# ------------------------------------------------------------ what we send
def test_user_audio_chunk_has_no_type() -> None:
    assert json.loads(ae.user_audio_message(AUDIO)) == {"user_audio_chunk": AUDIO}


@pytest.mark.parametrize("event_id", [0, 1, 12345, 2**40])
def test_pong_echoes_the_ping_event_id(event_id: int) -> None:
    ping = ae.parse(agent_ping(event_id))
    assert isinstance(ping, ae.Ping)
    assert json.loads(ae.pong_message(ping.event_id)) == {"type": "pong", "event_id": event_id}


@pytest.mark.parametrize("is_error", [False, True])
def test_client_tool_result(is_error: bool) -> None:
    result = json.dumps({"ok": True, "note": 'said "Friday" – ñ'})
    text = ae.tool_result_message("tc_9", result, is_error=is_error)
    assert json.loads(text) == {
        "type": "client_tool_result",
        "tool_call_id": "tc_9",
        "result": result,
        "is_error": is_error,
    }
    assert isinstance(json.loads(text)["result"], str)


def test_contextual_update() -> None:
    text = ae.contextual_update_message('The caller pressed "1".')
    assert json.loads(text) == {"type": "contextual_update", "text": 'The caller pressed "1".'}


def test_initiation_message() -> None:
    text = ae.initiation_message(
        dynamic_variables={"debtor_name": "Ann", "balance": 125.5, "is_vip": False, "n": 3},
        config_override={"agent": {"first_message": "", "language": "en"}},
        user_id="acct_42",
    )
    assert json.loads(text) == {
        "type": "conversation_initiation_client_data",
        "dynamic_variables": {"debtor_name": "Ann", "balance": 125.5, "is_vip": False, "n": 3},
        "conversation_config_override": {"agent": {"first_message": "", "language": "en"}},
        "user_id": "acct_42",
    }


@pytest.mark.parametrize("user_id", [None, ""])
def test_initiation_message_without_a_user(user_id: str | None) -> None:
    text = ae.initiation_message(dynamic_variables={}, config_override={}, user_id=user_id)
    assert "user_id" not in json.loads(text)
