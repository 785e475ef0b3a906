"""What the stand-in agent says and does: a scripted collections conversation.

Why scripted: the stand-in has no language model and no speech recognition, yet the
gateway must be exercised through a whole call (greeting, identity check, balance,
promise to pay, goodbye) with the same message sequence the real agent produces.
A :class:`Script` is data, so the demo, the tests and the benchmark can pass their
own.

Steps run in order:

- :class:`Say` — the agent speaks one response (``agent_response`` + ``audio``).
- :class:`Listen` — wait until the caller finishes a turn (voice activity detection,
  or a typed ``user_message``), then emit ``transcript`` as ``user_transcript``:
  the stand-in cannot hear words, so the script says what the caller "said".
- :class:`CallTool` — a ``client_tool_call``; wait for the ``client_tool_result``
  (or ``timeout_s``), then speak ``on_success`` or ``on_error``.
- :class:`EndCall` — speak ``goodbye`` then end the call, either as the service's
  *system* ``end_call`` (``agent_tool_response`` then close 1000, reference §6.3) or
  as a *client* tool call named ``end_call`` (parley's gateway hangs up itself once
  the last words have played).

Texts and string tool parameters may hold ``{{variable}}`` references, filled from
the init message's ``dynamic_variables`` or else from :attr:`Script.placeholders`
(the agent's defaults). A parameter that is exactly one reference keeps the
variable's type (``"{{balance}}"`` -> ``125.5``). After each tool call,
``{{tool_result}}`` is the text the tool answered (a client tool's
``client_tool_result.result``, a webhook's response body) and, when that text is a
JSON object, ``{{tool_result.field}}`` (``{{tool_result.a.b}}`` for nested ones) is
each of its values, so a line can say what the backoffice answered. A
``tool_result`` reference nothing has filled yet reads as an empty string.

:attr:`Script.analysis` is what the service's post-call analysis "found": the
``data_collection_results`` values, the summary and ``call_successful`` reported by
``GET /v1/convai/conversations/{id}`` and the post-call webhook.

Opening mode (reference §10): the agent first speaks the ``first_message`` override
when it is a non-empty string, waits for the caller when it is ``""``, and uses
:attr:`Script.first_message` when there is no override.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

JsonScalar = str | int | float | bool | None
ToolParam = JsonScalar | list["ToolParam"] | dict[str, "ToolParam"]

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_\-.]+)\s*\}\}")
#: Filled during the call from the last tool result, not at the start.
RESULT_VARIABLE = "tool_result"


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Listen:
    transcript: str


@dataclass(frozen=True, slots=True)
class CallTool:
    name: str
    parameters: Mapping[str, ToolParam] = field(default_factory=dict)
    on_success: str = ""
    on_error: str = ""
    timeout_s: float = 20.0
    #: After an error (or timeout), skip straight to the script's final EndCall.
    end_on_error: bool = False


@dataclass(frozen=True, slots=True)
class EndCall:
    goodbye: str = ""
    via: Literal["system", "client"] = "system"
    reason: str = "conversation finished"


Step = Say | Listen | CallTool | EndCall


@dataclass(frozen=True, slots=True)
class Analysis:
    """The post-call analysis the stand-in reports (string values may hold ``{{var}}``).

    ``data`` maps a data collection id (``contact_result``, ``willingness_to_pay``...)
    to its value. With a stored agent only the ids its
    ``platform_settings.data_collection`` defines are reported (the others it
    defines come back as None), as the service evaluates only what is configured.
    """

    data: Mapping[str, JsonScalar] = field(default_factory=dict)
    summary: str = ""
    call_successful: Literal["success", "failure", "unknown"] = "success"
    title: str = ""


@dataclass(frozen=True, slots=True)
class Script:
    language: str
    first_message: str
    steps: tuple[Step, ...]
    placeholders: Mapping[str, JsonScalar] = field(default_factory=dict)
    #: espeak-ng voice; defaults to the language code.
    voice: str | None = None
    analysis: Analysis | None = None

    def listen_transcripts(self, variables: Mapping[str, JsonScalar] | None = None) -> list[str]:
        """The caller lines the script expects, filled in, in order.

        Handy to give the Twilio stand-in's caller the very words the agent will
        "hear"; ``variables`` are the dynamic variables the gateway will send.
        """
        values = {**self.placeholders, **(variables or {})}
        return [fill(step.transcript, values) for step in self.steps if isinstance(step, Listen)]


class MissingVariableError(Exception):
    """A ``{{name}}`` that neither the init message nor the script defines."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Missing required dynamic variable: {name}")
        self.name = name


def fill(text: str, variables: Mapping[str, JsonScalar]) -> str:
    """Replace every ``{{name}}`` in ``text``; raise :class:`MissingVariableError`."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            if is_result_variable(name):
                return ""
            raise MissingVariableError(name)
        value = variables[name]
        return "" if value is None else str(value)

    return _VARIABLE.sub(one, text)


def fill_params(value: ToolParam, variables: Mapping[str, JsonScalar]) -> ToolParam:
    """:func:`fill` through a JSON value; a lone ``{{name}}`` keeps the variable's type."""
    if isinstance(value, str):
        whole = _VARIABLE.fullmatch(value.strip())
        if whole is not None:
            name = whole.group(1)
            if name not in variables:
                if is_result_variable(name):
                    return ""
                raise MissingVariableError(name)
            return variables[name]
        return fill(value, variables)
    if isinstance(value, list):
        return [fill_params(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: fill_params(item, variables) for key, item in value.items()}
    return value


def is_result_variable(name: str) -> bool:
    return name == RESULT_VARIABLE or name.startswith(RESULT_VARIABLE + ".")


def references(text: str) -> set[str]:
    """The variable names ``text`` refers to (``{{name}}``)."""
    return {match.group(1) for match in _VARIABLE.finditer(text)}


def result_variables(text: str) -> dict[str, JsonScalar]:
    """``tool_result`` and, for a JSON object, ``tool_result.<path>`` per scalar value."""
    values: dict[str, JsonScalar] = {RESULT_VARIABLE: text}
    try:
        parsed = json.loads(text)
    except (TypeError, ValueError):
        return values

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}", item)
        elif isinstance(value, str | int | float | bool) or value is None:
            values[prefix] = value

    if isinstance(parsed, dict):
        walk(RESULT_VARIABLE, parsed)
    return values


def check_variables(script: Script, variables: Mapping[str, JsonScalar]) -> None:
    """Raise :class:`MissingVariableError` for the first reference nothing defines.

    The service checks this when the conversation starts, not when the line is
    reached, and closes with 1008 ``missing_dynamic_variable`` (reference §2.1).
    """
    fill(script.first_message, variables)
    for step in script.steps:
        if isinstance(step, Say):
            fill(step.text, variables)
        elif isinstance(step, Listen):
            fill(step.transcript, variables)
        elif isinstance(step, CallTool):
            fill_params(dict(step.parameters), variables)
            fill(step.on_success, variables)
            fill(step.on_error, variables)
        else:
            fill(step.goodbye, variables)
    if script.analysis is not None:
        fill(script.analysis.summary, variables)


def next_friday(today: dt.date | None = None) -> dt.date:
    """The first Friday strictly after ``today`` (the caller's promised payment day)."""
    day = today or dt.datetime.now(dt.UTC).date()
    return day + dt.timedelta(days=(4 - day.weekday()) % 7 or 7)


def default_script(language: str = "en", *, today: dt.date | None = None) -> Script:
    """The built-in collections call in English (default) or Spanish (``es*``)."""
    friday = next_friday(today).isoformat()
    if language.lower().startswith("es"):
        return _spanish(friday)
    return _english(friday)


def _english(friday: str) -> Script:
    return Script(
        language="en",
        first_message=(
            "Hello {{debtor_name}}, this is {{agent_name}} calling from {{company}} "
            "about your account. Is this a good time to talk?"
        ),
        steps=(
            Listen("Yes, this is {{debtor_name}} speaking."),
            Say(
                "Thank you. Before we continue, could you please tell me the last four "
                "digits of your document, to verify your identity?"
            ),
            Listen("Sure, it is one two three four."),
            CallTool(
                "verify_identity",
                {"last_digits": "{{identity_digits}}"},
                on_success=(
                    "Thank you, you are verified. Your outstanding balance is {{balance}} "
                    "{{currency}}. When would you be able to pay?"
                ),
                on_error=(
                    "I am sorry, I could not verify your identity, so I cannot discuss "
                    "the account. Please call us back. Goodbye."
                ),
                end_on_error=True,
            ),
            Listen("I can pay it all on Friday."),
            CallTool(
                "register_promise",
                {"amount": "{{balance}}", "date": friday},
                on_success=(
                    "Perfect. I have registered your promise to pay {{balance}} "
                    "{{currency}} on Friday. Thank you for your time. Goodbye!"
                ),
                on_error=(
                    "I am sorry, I could not register the promise right now. "
                    "A colleague will call you back. Goodbye."
                ),
            ),
            EndCall(via="client", reason="promise registered"),
        ),
        placeholders={
            "debtor_name": "Ann",
            "agent_name": "Alex",
            "company": "Parley Finance",
            "balance": "120.50",
            "currency": "dollars",
            "identity_digits": "1234",
        },
    )


def _spanish(friday: str) -> Script:
    return Script(
        language="es",
        first_message=(
            "Hola {{debtor_name}}, le habla {{agent_name}} de {{company}} sobre su cuenta. "
            "¿Es un buen momento para hablar?"
        ),
        steps=(
            Listen("Sí, soy {{debtor_name}}."),
            Say(
                "Gracias. Antes de continuar, ¿me puede decir los últimos cuatro dígitos "
                "de su documento para verificar su identidad?"
            ),
            Listen("Claro, son uno dos tres cuatro."),
            CallTool(
                "verify_identity",
                {"last_digits": "{{identity_digits}}"},
                on_success=(
                    "Gracias, su identidad está verificada. Su saldo pendiente es de "
                    "{{balance}} {{currency}}. ¿Cuándo podría pagarlo?"
                ),
                on_error=(
                    "Lo siento, no he podido verificar su identidad, así que no puedo "
                    "hablar de la cuenta. Llámenos, por favor. Adiós."
                ),
                end_on_error=True,
            ),
            Listen("Puedo pagarlo todo el viernes."),
            CallTool(
                "register_promise",
                {"amount": "{{balance}}", "date": friday},
                on_success=(
                    "Perfecto. He registrado su promesa de pago de {{balance}} "
                    "{{currency}} para el viernes. Gracias por su tiempo. ¡Adiós!"
                ),
                on_error=(
                    "Lo siento, ahora mismo no puedo registrar la promesa. "
                    "Un compañero le llamará. Adiós."
                ),
            ),
            EndCall(via="client", reason="promesa registrada"),
        ),
        placeholders={
            "debtor_name": "Ana",
            "agent_name": "Alex",
            "company": "Parley Finanzas",
            "balance": "120.50",
            "currency": "euros",
            "identity_digits": "1234",
        },
    )
