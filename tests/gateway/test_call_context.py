"""gateway.call_context: the initiation message, per opening mode and language.

Reference: elevenlabs-convai.md §2.1. An empty ``first_message`` makes the agent wait
for the callee; a greeting makes it speak first.
"""

import json
from typing import Any

import pytest

from config import defaults
from gateway.call_context import CallContext, OpeningMode, initiation_for


def context(**overrides: Any) -> CallContext:
    fields: dict[str, Any] = {
        "call_sid": "CA5ee0a6f1c0b3d0e5a4b2d9c8e7f6a5b4",
        "org_id": "Acme Lending",
        "account_id": "acct_42",
        "direction": "outbound",
    }
    fields.update(overrides)
    return CallContext(**fields)


def initiation(ctx: CallContext, *, resume: bool = False) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(initiation_for(ctx, resume=resume))
    assert msg["type"] == "conversation_initiation_client_data"
    return msg


def agent_override(msg: dict[str, Any]) -> dict[str, Any]:
    agent: dict[str, Any] = msg["conversation_config_override"]["agent"]
    return agent


def test_callee_first_is_the_default_and_sends_an_empty_first_message() -> None:
    assert context().opening_mode is OpeningMode.CALLEE_FIRST
    assert agent_override(initiation(context()))["first_message"] == ""


def test_callee_first_ignores_a_custom_first_message() -> None:
    msg = initiation(context(first_message="Hi there"))
    assert agent_override(msg)["first_message"] == ""


@pytest.mark.parametrize(
    ("language", "base"),
    [
        ("es", "es"),
        ("en", "en"),
        ("pt", "pt"),
        ("es-MX", "es"),
        ("pt-BR", "pt"),
        ("en_US", "en"),
        ("EN-gb", "en"),
    ],
)
def test_agent_first_greets_in_the_call_language(language: str, base: str) -> None:
    msg = initiation(context(opening_mode=OpeningMode.AGENT_FIRST, language=language))
    agent = agent_override(msg)
    assert agent["first_message"] == defaults.GREETINGS[base]
    assert agent["language"] == base


def test_the_greetings_really_are_in_their_languages() -> None:
    assert defaults.greeting_for("es-MX").startswith("Hola")
    assert defaults.greeting_for("en").startswith("Hello")
    assert defaults.greeting_for("pt").startswith("Olá")


@pytest.mark.parametrize("language", ["", "fr", "zz-ZZ"])
def test_an_unknown_language_falls_back_to_spanish(language: str) -> None:
    msg = initiation(context(opening_mode=OpeningMode.AGENT_FIRST, language=language))
    assert agent_override(msg)["first_message"] == defaults.GREETINGS["es"]
    assert agent_override(msg)["language"] == "es"


def test_agent_first_with_a_custom_first_message() -> None:
    msg = initiation(context(opening_mode=OpeningMode.AGENT_FIRST, first_message="Buenas tardes"))
    assert agent_override(msg)["first_message"] == "Buenas tardes"


@pytest.mark.parametrize("mode", list(OpeningMode))
@pytest.mark.parametrize("first_message", [None, "Hello again!"])
def test_a_resumed_conversation_never_greets(mode: OpeningMode, first_message: str | None) -> None:
    msg = initiation(context(opening_mode=mode, first_message=first_message), resume=True)
    assert agent_override(msg)["first_message"] == ""


def test_dynamic_variables_identify_the_call() -> None:
    variables = initiation(context())["dynamic_variables"]
    assert variables["call_sid"] == "CA5ee0a6f1c0b3d0e5a4b2d9c8e7f6a5b4"
    assert variables["account_id"] == "acct_42"
    assert variables["call_direction"] == "outbound"
    # The greetings reference these; a missing variable closes the session (1008).
    assert variables["org_name"] == "Acme Lending"
    assert variables["debtor_first_name"] == ""


def test_call_variables_fill_in_but_cannot_override_the_call_identity() -> None:
    ctx = context(
        direction="inbound",
        dynamic_variables={
            "debtor_first_name": "Ann",
            "balance": 125.5,
            "is_vip": False,
            "call_sid": "CA_forged",
            "account_id": "acct_other",
        },
    )
    variables = initiation(ctx)["dynamic_variables"]
    assert variables["debtor_first_name"] == "Ann"
    assert variables["balance"] == 125.5
    assert variables["is_vip"] is False
    assert variables["call_sid"] == "CA5ee0a6f1c0b3d0e5a4b2d9c8e7f6a5b4"
    assert variables["account_id"] == "acct_42"
    assert variables["call_direction"] == "inbound"


def test_every_variable_a_greeting_uses_is_sent() -> None:
    for language in defaults.GREETINGS:
        msg = initiation(context(opening_mode=OpeningMode.AGENT_FIRST, language=language))
        greeting = agent_override(msg)["first_message"]
        names = {part.split("}}")[0] for part in greeting.split("{{")[1:]}
        assert names <= set(msg["dynamic_variables"])


def test_the_user_is_the_account() -> None:
    assert initiation(context())["user_id"] == "acct_42"
    assert "user_id" not in initiation(context(account_id=""))


def test_a_voice_is_overridden_only_when_known() -> None:
    assert "tts" not in initiation(context())["conversation_config_override"]
    msg = initiation(context(voice_id="21m00Tcm4TlvDq8ikWAM"))
    assert msg["conversation_config_override"]["tts"] == {"voice_id": "21m00Tcm4TlvDq8ikWAM"}
