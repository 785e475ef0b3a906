"""Sans-I/O parts of the ElevenLabs stand-in: client message rules, scripts, chunks."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from gateway.standins.elevenlabs import wire
from gateway.standins.elevenlabs.script import (
    JsonScalar,
    MissingVariableError,
    check_variables,
    default_script,
    fill,
    fill_params,
    next_friday,
)
from gateway.standins.elevenlabs.signed_urls import SignatureIssuer
from gateway.standins.elevenlabs.utterance import Utterance, cut_text, split_chunks


def test_client_messages_parse_per_the_reference() -> None:
    assert wire.parse_client_message('{"user_audio_chunk": "AAE="}') == wire.AudioChunk(b"\x00\x01")
    assert wire.parse_client_message('{"type": "pong", "event_id": 3}') == wire.Pong(3)
    result = wire.parse_client_message(
        '{"type": "client_tool_result", "tool_call_id": "t1", "result": "ok", "is_error": true}'
    )
    assert result == wire.ToolResult("t1", "ok", True)
    init = wire.parse_client_message(
        '{"type": "conversation_initiation_client_data", "dynamic_variables": {"a": 1},'
        ' "conversation_config_override": {"agent": {"first_message": ""}}}'
    )
    assert isinstance(init, wire.InitiationData)
    assert init.agent_override("first_message") == ""
    assert wire.parse_client_message('{"type": "feedback", "event_id": 1, "score": "like"}') == (
        wire.OtherMessage("feedback", {"type": "feedback", "event_id": 1, "score": "like"})
    )


@pytest.mark.parametrize(
    ("text", "error_type"),
    [
        ('{"type": "pong", "event_id": true}', "value_error"),
        ('{"type": "client_tool_result", "tool_call_id": "x"}', "missing_fields"),
        (
            '{"type": "conversation_initiation_client_data", "dynamic_variables": {"a": [1]}}',
            "value_error",
        ),
        ("[1, 2]", "invalid_message"),
        ('{"hello": 1}', "missing_fields"),
    ],
)
def test_bad_client_messages(text: str, error_type: str) -> None:
    with pytest.raises(wire.ClientMessageError) as error:
        wire.parse_client_message(text)
    assert error.value.error_type == error_type


def test_variables_fill_text_and_keep_types_in_tool_parameters() -> None:
    variables: dict[str, JsonScalar] = {"name": "Ann", "balance": 125.5}
    assert fill("Hi {{ name }}, you owe {{balance}}.", variables) == "Hi Ann, you owe 125.5."
    assert fill_params(
        {"amount": "{{balance}}", "note": "for {{name}}", "n": [1, "{{name}}"]}, variables
    ) == {"amount": 125.5, "note": "for Ann", "n": [1, "Ann"]}
    with pytest.raises(MissingVariableError, match="missing_var"):
        fill("{{missing_var}}", variables)


def test_default_scripts_are_self_sufficient() -> None:
    for language in ("en", "es-MX"):
        script = default_script(language, today=dt.date(2025, 1, 6))
        check_variables(script, dict(script.placeholders))
        assert len(script.listen_transcripts()) == 3
    assert default_script("es").language == "es"
    assert next_friday(dt.date(2025, 1, 10)) == dt.date(2025, 1, 17)  # a Friday -> next one
    assert next_friday(dt.date(2025, 1, 6)) == dt.date(2025, 1, 10)


def test_chunks_are_sized_in_range_and_the_text_is_cut_by_playback() -> None:
    data = bytes(8000 * 5)
    chunks = split_chunks(data, "ulaw_8000", (100, 1500), random.Random(1))
    assert b"".join(c for c, _ in chunks) == data
    assert all(0.1 <= d <= 1.5 for _, d in chunks[:-1])
    pcm_chunks = split_chunks(bytes(32001), "pcm_16000", (100, 100), random.Random(1))
    assert all(len(c) % 2 == 0 for c, _ in pcm_chunks[:-1])
    assert cut_text("one two three four", 0.5) == "one two"
    utterance = Utterance(1, "x", 2.0, started_at=10.0, sent_s=2.0)
    assert utterance.is_playing(11.9) and not utterance.is_playing(12.0)
    assert utterance.position(11.0) == 1.0 and utterance.ahead_s(11.0) == 1.0


def test_signatures_are_single_use_and_expire() -> None:
    now = [0.0]
    issuer = SignatureIssuer(10, clock=lambda: now[0])
    token = issuer.issue("a")
    assert issuer.redeem(token, "a") is None
    assert issuer.redeem(token, "a") == "unknown or already used conversation_signature"
    late = issuer.issue("a")
    now[0] = 11
    assert issuer.redeem(late, "a") == "conversation_signature expired"
