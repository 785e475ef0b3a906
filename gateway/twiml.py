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


def reject() -> str:
    """A call we will not take (unknown, draining): Twilio plays a busy signal."""
    response = VoiceResponse()
    response.reject(reason="busy")
    return str(response)
