"""Local, protocol-faithful stand-ins for parley's two peers: Twilio and ElevenLabs.

They are written from the providers' documented message formats (see
``shared/reference/``), never from the gateway's own parsers, so a test that passes
against them says the gateway speaks the providers' protocols, not its own idea of
them. ``parley demo``, the test-suite and the benchmark all run on them.

- :mod:`gateway.standins.speech` — text to speech with espeak-ng (cached), with a
  shipped recording as fallback.
- :mod:`gateway.standins.elevenlabs` — a ConvAI agent service: signed URLs, the
  conversation websocket, a scripted collections agent
  (:class:`~gateway.standins.elevenlabs.ElevenLabsStandIn`).
- ``gateway.standins.twilio_*`` — Twilio's REST API, the phone network, the Media
  Streams client and a scripted caller
  (:class:`~gateway.standins.twilio_standin.TwilioStandIn`);
  :mod:`gateway.standins.twilio_sdk` points the twilio SDK at it.
- :mod:`gateway.standins.frame_tag` — sequence numbers hidden in mu-law frames, for
  end-to-end latency measurement in pass-through mode.
"""
