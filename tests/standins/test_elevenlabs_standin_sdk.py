"""The ElevenLabs stand-in with the official ``elevenlabs`` SDK (2.78) as its peer.

If the SDK can hold a whole conversation with the stand-in (pongs, audio both ways,
client tools, callbacks, interruption, end of session), the stand-in speaks the
protocol the SDK was written for, independently of our gateway's parsers.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError

from gateway.standins.elevenlabs import (
    AgentOptions,
    CallTool,
    ElevenLabsStandIn,
    EndCall,
    Listen,
    Script,
)
from gateway.standins.speech import synthesize
from media import mulaw

with warnings.catch_warnings():
    # SDK 2.78 annotates with websockets' deprecated legacy client class at import time.
    warnings.simplefilter("ignore", DeprecationWarning)
    from elevenlabs.conversational_ai.conversation import (
        AsyncAudioInterface,
        AsyncConversation,
        ClientTools,
        ConversationInitiationData,
    )

SILENCE = bytes([0xFF]) * 160
API_KEY = "xi-test-key"


class Phone(AsyncAudioInterface):
    """A phone for the SDK: sends 20 ms mu-law frames in real time, plays what it gets.

    It says its next line once the agent's audio has finished "playing" and 500 ms
    have passed, or, for a line marked as a barge-in, ``barge_after_s`` after the
    agent's audio started.
    """

    def __init__(self, lines: list[str], barge_after_s: float | None = None) -> None:
        self.lines = list(lines)
        self.barge_after_s = barge_after_s
        self.received = bytearray()
        self.chunks = 0
        self.interrupts = 0
        self.sent_speech_frames = 0
        self._play_start: float | None = None
        self._playing_until = 0.0
        self._heard = False
        self._task: asyncio.Task[None] | None = None
        self._send: Callable[[bytes], Awaitable[None]] | None = None

    async def start(self, input_callback: Callable[[bytes], Awaitable[None]]) -> None:
        self._send = input_callback
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def output(self, audio: bytes) -> None:
        now = time.monotonic()
        if now >= self._playing_until:
            self._play_start = now
        self._playing_until = max(now, self._playing_until) + len(audio) / 8000
        self.received += audio
        self.chunks += 1
        self._heard = True

    async def interrupt(self) -> None:
        self.interrupts += 1
        self._playing_until = time.monotonic()

    def _want_to_speak(self, now: float) -> bool:
        if not self.lines or not self._heard:
            return False
        if self.barge_after_s is not None and self._play_start is not None:
            playing = now < self._playing_until
            return playing and now - self._play_start >= self.barge_after_s
        return now > self._playing_until + 0.5

    async def _run(self) -> None:
        assert self._send is not None
        start, tick, speech = time.monotonic(), 0, b""
        while True:
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * 0.02 - time.monotonic()))
            if not speech and self._want_to_speak(time.monotonic()):
                speech = mulaw.encode(synthesize(self.lines.pop(0)))
                self._heard = False
                self.barge_after_s = None
            frame, speech = speech[:160], speech[160:]
            if frame:
                self.sent_speech_frames += 1
            await self._send(frame.ljust(160, b"\xff") if frame else SILENCE)


def short_script(ending: EndCall) -> Script:
    return Script(
        language="en",
        first_message="Hello {{debtor_name}}, this is Alex.",
        steps=(
            Listen("Yes, it is me."),
            CallTool("verify_identity", {"last_digits": "{{digits}}"}, on_success="Thanks."),
            ending,
        ),
        placeholders={"debtor_name": "Ann", "digits": "1234"},
    )


class Transcript:
    def __init__(self) -> None:
        self.agent: list[str] = []
        self.user: list[str] = []
        self.corrections: list[tuple[str, str]] = []

    async def on_agent(self, text: str) -> None:
        self.agent.append(text)

    async def on_user(self, text: str) -> None:
        self.user.append(text)

    async def on_correction(self, original: str, corrected: str) -> None:
        self.corrections.append((original, corrected))


def conversation(
    client: ElevenLabs,
    phone: Phone,
    transcript: Transcript,
    tools: ClientTools,
    *,
    requires_auth: bool,
    variables: dict[str, Any] | None = None,
) -> AsyncConversation:
    return AsyncConversation(
        client,
        "agent_test",
        requires_auth=requires_auth,
        audio_interface=phone,
        config=ConversationInitiationData(dynamic_variables=variables or {}),
        client_tools=tools,
        callback_agent_response=transcript.on_agent,
        callback_user_transcript=transcript.on_user,
        callback_agent_response_correction=transcript.on_correction,
    )


def verifying_tools(seen: list[dict[str, Any]]) -> ClientTools:
    # The SDK sends the result with asyncio.create_task: its tools must run on our loop.
    tools = ClientTools(loop=asyncio.get_running_loop())

    async def verify(params: dict[str, Any]) -> str:
        seen.append(params)
        return '{"verified": true}'

    tools.register("verify_identity", verify, is_async=True)
    return tools


@pytest.mark.parametrize("requires_auth", [False, True])
async def test_sdk_holds_a_whole_conversation(requires_auth: bool) -> None:
    options = AgentOptions(
        require_auth=requires_auth,
        api_key=API_KEY,
        ping_interval_s=0.25,
        script=short_script(EndCall(goodbye="Goodbye.", via="system")),
    )
    async with ElevenLabsStandIn(options) as agent:
        client = ElevenLabs(api_key=API_KEY, base_url=agent.base_url)
        phone, transcript = Phone(["Yes, it is me."]), Transcript()
        calls: list[dict[str, Any]] = []
        conv = conversation(
            client,
            phone,
            transcript,
            verifying_tools(calls),
            requires_auth=requires_auth,
            variables={"debtor_name": "Bea"},
        )
        await conv.start_session()  # type: ignore[no-untyped-call]
        conversation_id = await asyncio.wait_for(conv.wait_for_session_end(), 15)
        record = await agent.wait_for_conversation()
        await record.wait_closed()

    assert conversation_id == record.conversation_id
    assert record.query["agent_id"] == "agent_test"
    assert record.query["source"] == "python_sdk"
    assert ("conversation_signature" in record.query) is requires_auth
    assert agent.signed_url_requests == (1 if requires_auth else 0)
    assert record.init is not None and record.init["dynamic_variables"] == {"debtor_name": "Bea"}

    # Pings answered by the SDK with the same event ids, in order, each pong matched to
    # its ping (how fast is the benchmark's business, not a test's: machines are shared).
    assert len(record.pongs) >= 3
    assert [p.event_id for p in record.pongs] == list(range(1, len(record.pongs) + 1))
    assert all(p.rtt_ms is not None and p.rtt_ms >= 0 for p in record.pongs)

    # Audio both ways: the agent's three responses reached the phone, the caller's
    # frames reached the agent.
    sent = sum(turn.audio_bytes_sent for turn in record.agent_turns)
    assert len(phone.received) == sent > 8000
    assert record.audio_bytes_received >= 160 * phone.sent_speech_frames > 0
    assert record.message_counts["user_audio_chunk"] == record.audio_chunks_received

    # The client tool ran in the SDK, and its result came back.
    assert calls == [{"tool_call_id": record.tool_calls[0].tool_call_id, "last_digits": "1234"}]
    assert record.tool_calls[0].result == '{"verified": true}'
    assert record.tool_calls[0].is_error is False

    assert transcript.agent == ["Hello Bea, this is Alex.", "Thanks.", "Goodbye."]
    assert transcript.user == ["Yes, it is me."]
    assert record.ended_with_end_call
    assert record.events_sent["agent_tool_response"] == 1
    assert (record.close_code, record.closed_by) == (1000, "server")


async def test_sdk_interruption_stops_the_agent_mid_sentence() -> None:
    long_line = (
        "Thank you for taking my call today. I am calling about the balance on your "
        "account, which has been outstanding for some time now."
    )
    options = AgentOptions(
        ping_interval_s=5,
        realtime_pacing=True,
        script=Script(
            "en",
            long_line,
            (Listen("Sorry, who is this?"), EndCall(goodbye="Bye.", via="system")),
        ),
    )
    async with ElevenLabsStandIn(options) as agent:
        client = ElevenLabs(api_key=API_KEY, base_url=agent.base_url)
        phone, transcript = Phone(["Sorry, who is this?"], barge_after_s=1.0), Transcript()
        conv = conversation(
            client,
            phone,
            transcript,
            ClientTools(loop=asyncio.get_running_loop()),
            requires_auth=False,
        )
        await conv.start_session()  # type: ignore[no-untyped-call]
        await asyncio.wait_for(conv.wait_for_session_end(), 20)
        record = await agent.wait_for_conversation()
        await record.wait_closed()

    opening = record.agent_turns[0]
    assert opening.interrupted
    assert opening.interruption_event_id is not None
    assert opening.interruption_event_id >= opening.event_id
    assert opening.played_s == pytest.approx(1.1, abs=0.25)
    assert opening.audio_bytes_sent < opening.duration_s * 8000 * 0.6
    assert phone.interrupts == 1
    original, corrected = transcript.corrections[0]
    assert original == long_line and long_line.startswith(corrected) and corrected
    assert len(corrected) < len(long_line) / 2
    assert transcript.user == ["Sorry, who is this?"]
    assert transcript.agent == [long_line, "Bye."]


async def test_signed_urls_need_the_key_and_work_once() -> None:
    async with ElevenLabsStandIn(AgentOptions(require_auth=True, api_key=API_KEY)) as agent:
        wrong = ElevenLabs(api_key="nope", base_url=agent.base_url)
        with pytest.raises(ApiError) as denied:
            await asyncio.to_thread(
                wrong.conversational_ai.conversations.get_signed_url, agent_id="agent_test"
            )
        assert denied.value.status_code == 401

        client = ElevenLabs(api_key=API_KEY, base_url=agent.base_url)
        signed = await asyncio.to_thread(
            client.conversational_ai.conversations.get_signed_url, agent_id="agent_test"
        )
    assert signed.signed_url.startswith(
        f"{agent.ws_url}?agent_id=agent_test&conversation_signature="
    )
