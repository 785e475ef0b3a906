"""Knobs of the ElevenLabs stand-in, one dataclass read at each new conversation.

Why these knobs: each one reproduces a behaviour of the real service that the gateway
must cope with, or a condition a test needs to create:

- ``require_auth`` / ``api_key`` / ``signed_url_ttl_s``: private agents, signed URLs
  that are single-use and expire after 15 minutes.
- ``audio_format`` / ``input_format``: the agent's TTS output and ASR input formats
  (``ulaw_8000`` for Twilio pass-through, or ``pcm_16000``, the service default).
- ``ping_interval_s``: the service pings and expects pongs.
- ``chunk_ms``: agent audio arrives in uneven chunks of 0.1 to 1.5 s.
- ``realtime_pacing``: by default audio is sent ``burst_speed`` times faster than
  real time, like the service; the benchmark can ask for just-in-time sending with
  ``realtime_lead_ms`` of audio ahead of the estimated playback position.
- ``first_audio_delay_ms``: time from the trigger of a response (init message, end of
  the caller's turn, tool result) to its first audio: the agent's "thinking" latency.
- ``drop_after_s``: the socket dies without a close frame mid-call (reconnect tests).
- ``end_call_close_delay_s``: the real service closes right after ``end_call``,
  before the client has played the goodbye (reference §11.3).
- VAD thresholds: when the caller's speech starts (``vad_start_ms`` above
  ``vad_threshold_rms``) and ends (``vad_end_ms`` below).
- ``webhook_tools``: server tools by name (the agent JSON of a ``type: "webhook"``
  tool), for tests that do not create an agent through the REST API; a stored
  agent's own tools are used otherwise. ``secrets`` / ``env_vars`` resolve their
  ``{"secret_id"}`` / ``{"env_var_label"}`` header values (secrets created through
  ``POST /v1/convai/secrets`` resolve too).
- ``post_call_webhook``: where and how the ``post_call_transcription`` webhook is
  delivered (and how it goes wrong: duplicates, delay, loss, bad signatures); without
  it, a workspace webhook attached through the REST API is used, if any.
- ``analysis_delay_s``: how long an ended conversation stays ``processing`` before
  it is ``done`` (and its webhook goes out); None holds it until
  :meth:`ElevenLabsStandIn.release_analysis`.
- ``strict_overrides`` / ``placeholders_fill_missing``: with a stored agent, an
  override the agent does not enable closes the conversation (1008 ``override_error``,
  as the docs say; False ignores it, as one report says), and a variable the prompt,
  first message or tools use but the client did not send closes it with 1008
  ``missing_dynamic_variable`` unless the agent's placeholders may stand in.

Options may be changed between conversations; a running conversation keeps the
values it started with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.standins.elevenlabs.script import Script
from gateway.standins.elevenlabs.wire import InitiationData

ScriptChoice = Script | Callable[[InitiationData], Script] | None

#: How a post-call webhook delivery goes wrong, for tests of the receiver.
DeliveryFault = Literal[
    "lost", "wrong_secret", "tampered_body", "stale", "no_signature", "malformed_json"
]


@dataclass(frozen=True, slots=True)
class PostCallWebhook:
    """Delivery of ``post_call_transcription`` for every conversation that ends.

    ``copies`` sends the same event that many times (duplicates); ``delay_s`` waits
    before the first; ``fault`` spoils every copy in one way; ``stale_by_s`` is how
    old a ``stale`` signature's timestamp is (the SDK accepts up to 30 minutes).
    """

    url: str
    secret: str
    copies: int = 1
    delay_s: float = 0.0
    fault: DeliveryFault | None = None
    stale_by_s: int = 3600
    timeout_s: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class AgentOptions:
    require_auth: bool = False
    api_key: str = "xi-standin-key"
    signed_url_ttl_s: float = 15 * 60
    #: Agent ids that exist; None accepts any id.
    agent_ids: frozenset[str] | None = None
    audio_format: str = "ulaw_8000"
    #: ASR input format; None means the same as ``audio_format``.
    input_format: str | None = None
    ping_interval_s: float = 2.0
    chunk_ms: tuple[int, int] = (100, 1500)
    realtime_pacing: bool = False
    realtime_lead_ms: int = 200
    burst_speed: float = 10.0
    first_audio_delay_ms: int = 0
    #: Script, or a function choosing one from the init message; None picks the
    #: built-in script for the ``agent.language`` override (English by default).
    script: ScriptChoice = None
    drop_after_s: float | None = None
    end_call_close_delay_s: float = 0.3
    #: After a client ``end_call``, how long to wait for the client to close first.
    client_end_call_grace_s: float = 15.0
    vad_threshold_rms: float = 300.0
    vad_start_ms: int = 60
    vad_end_ms: int = 500
    #: Once caller speech has lasted this long, a tentative transcript is sent.
    tentative_after_ms: int = 300
    send_vad_scores: bool = False
    #: Record the receive time (ns) and frame tag of every user audio chunk.
    probe_frames: bool = False
    seed: int | None = None
    webhook_tools: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    env_vars: Mapping[str, str] = field(default_factory=dict)
    post_call_webhook: PostCallWebhook | None = None
    analysis_delay_s: float | None = 0.2
    strict_overrides: bool = True
    placeholders_fill_missing: bool = False
    #: Credits charged per minute of conversation (``metadata.cost``).
    cost_per_minute: int = 1000

    @property
    def output_format(self) -> str:
        return self.audio_format

    @property
    def user_input_format(self) -> str:
        return self.input_format or self.audio_format
