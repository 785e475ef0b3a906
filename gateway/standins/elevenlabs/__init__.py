"""A local ElevenLabs ConvAI (Agents Platform) service: the gateway's agent-side peer.

What a client sees is the real service's protocol (reference
``elevenlabs-convai.md`` §1-6): a signed-URL REST route, the conversation websocket,
``conversation_initiation_client_data`` in, ``conversation_initiation_metadata``
out, pings, agent audio in the negotiated format, transcripts, interruptions, client
tool calls and ``end_call``. Behind it there is no language model but a
:class:`~gateway.standins.elevenlabs.script.Script`: a list of steps (say, listen,
call a tool, end the call) played against the caller, with energy-based voice
activity detection deciding when the caller spoke and when they barged in.

On the same port it serves the REST API (reference §7-8, paths as the SDK sends
them): agents, conversations (transcript, metadata, analysis), secrets, workspace
webhooks and settings. An agent created there configures later conversations with
its id (tools run as client or webhook tools, overrides and variables enforced), and
ended conversations can be delivered as signed ``post_call_transcription`` webhooks
(:class:`PostCallWebhook`). See :mod:`.server` for the public API.

Typical use::

    agent = ElevenLabsStandIn(AgentOptions(require_auth=True, api_key="xi-test"))
    await agent.start()
    ...  # point the gateway (or the elevenlabs SDK) at agent.base_url
    conv = await agent.wait_for_conversation()
    await conv.wait_closed(timeout_s=30)
    await agent.stop()
"""

from gateway.standins.elevenlabs.options import AgentOptions, PostCallWebhook
from gateway.standins.elevenlabs.post_call import SIGNATURE_HEADER, Delivery, sign
from gateway.standins.elevenlabs.records import (
    AgentTurnRecord,
    ConversationRecord,
    PongRecord,
    ToolCallRecord,
    TranscriptEntry,
    WebhookCallRecord,
)
from gateway.standins.elevenlabs.script import (
    Analysis,
    CallTool,
    EndCall,
    Listen,
    Say,
    Script,
    Step,
    default_script,
)
from gateway.standins.elevenlabs.server import ElevenLabsStandIn

__all__ = [
    "SIGNATURE_HEADER",
    "AgentOptions",
    "AgentTurnRecord",
    "Analysis",
    "CallTool",
    "ConversationRecord",
    "Delivery",
    "ElevenLabsStandIn",
    "EndCall",
    "Listen",
    "PongRecord",
    "PostCallWebhook",
    "Say",
    "Script",
    "Step",
    "ToolCallRecord",
    "TranscriptEntry",
    "WebhookCallRecord",
    "default_script",
    "sign",
]
