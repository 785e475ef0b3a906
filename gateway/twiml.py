"""TwiML the gateway returns, built with the twilio SDK's builder."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse


def connect_stream(stream_url: str, parameters: dict[str, str]) -> str:
    """``<Connect><Stream>`` to our media socket, then ``<Hangup/>``.

    Per-call data travels as ``<Parameter>``s because Twilio drops query strings from
    ``<Stream url>`` (reference ``twilio-resend.md`` §1.5). The ``<Hangup/>`` ends the
    call as soon as we close the stream, instead of leaving the caller on a silent line.
    """
    response = VoiceResponse()
    stream = response.connect().stream(url=stream_url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.hangup()
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def reject() -> str:
    """A call we will not take (unknown, draining): Twilio plays a busy signal."""
    response = VoiceResponse()
    response.reject(reason="busy")
    return str(response)


def warm_transfer(
    number: str, *, whisper_url: str, action_url: str, caller_id: str | None, timeout_s: int = 25
) -> str:
    """Dial a person for a caller: the person hears the brief at ``whisper_url`` first.

    ``<Number url>`` runs that TwiML on the person's leg once they answer and before
    the two are connected (Twilio's whisper), which is what makes the transfer warm.
    Twilio then asks ``action_url`` what to do once the dial ends (answered and
    finished, or nobody answered).
    """
    response = VoiceResponse()
    dial = response.dial(
        action=action_url, method="POST", timeout=timeout_s, caller_id=caller_id or None
    )
    dial.number(number, url=whisper_url, method="POST")
    return str(response)


def say(text: str, language: str, *, hang_up: bool = True) -> str:
    response = VoiceResponse()
    response.say(text, language=say_language(language))
    if hang_up:
        response.hangup()
    return str(response)


def say_language(language: str) -> str:
    """Twilio ``<Say>`` wants a locale (``es-ES``); our languages may be bare (``es``)."""
    defaults = {"es": "es-ES", "en": "en-US", "pt": "pt-BR"}
    return language if "-" in language else defaults.get(language, "en-US")
