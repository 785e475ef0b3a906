"""End-to-end rig: the real gateway between the two stand-ins, all on loopback sockets.

:func:`e2e` starts the ElevenLabs stand-in, the Twilio stand-in and a gateway under
uvicorn whose settings point at both (REST API, signed URLs, agent socket), with
knobs turned down so that a whole call takes a few seconds: short pings, short VAD
end, fast ``<Say>``. Tests then act as an operator (``POST /api/calls``), as a
supervisor (``WS /live``) or as the phone network (``twilio.simulate_inbound_call``)
and read what each peer witnessed from the stand-ins' records.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.standins.elevenlabs import (
    AgentOptions,
    ConversationRecord,
    ElevenLabsStandIn,
    EndCall,
    Listen,
    Say,
    Script,
)
from gateway.standins.twilio_call import Callee
from gateway.standins.twilio_caller import CallerLine, CallerScript
from gateway.standins.twilio_records import CallRecord as TwilioCall
from gateway.standins.twilio_records import StreamRecord
from gateway.standins.twilio_standin import TwilioStandIn
from gateway.standins.waiting import poll_until
from tests.integration.harness import ACCOUNT_SID, AUTH_TOKEN, ORG_A_KEY, Gateway, ensure_account

ELEVENLABS_KEY = "xi-e2e-key"
DEBTOR = "+15550100001"
INBOUND_FROM = "+15550109999"
GATEWAY_NUMBER = "+15550000001"


def agent_options(**overrides: Any) -> AgentOptions:
    """Stand-in agent options tuned for quick tests (overridable field by field)."""
    values: dict[str, Any] = {
        "ping_interval_s": 0.4,
        "vad_end_ms": 300,
        "chunk_ms": (100, 400),
        "end_call_close_delay_s": 0.3,
        "client_end_call_grace_s": 5.0,
        "seed": 7,
    }
    values.update(overrides)
    return AgentOptions(**values)


def script(*steps: Say | Listen | EndCall, first: str = "Hi.") -> Script:
    """An English script; ``first`` is only spoken when the gateway sends no override."""
    return Script(language="en", first_message=first, steps=tuple(steps))


def caller(*lines: str | CallerLine, **options: Any) -> CallerScript:
    """A caller who answers 300 ms after the agent goes quiet (unless told otherwise)."""
    options.setdefault("reply_after_silence_ms", 300)
    return CallerScript.of(list(lines), **options)


#: A short call: the agent greets, the caller answers "Yes.", the agent says goodbye
#: and ends the call with the client ``end_call`` tool.
SHORT = script(Listen("Yes."), EndCall(goodbye="Goodbye.", via="client"))


@dataclass
class LiveFeed:
    """What a supervisor receives on ``WS /live``, collected in the background."""

    ws: ClientConnection
    events: list[dict[str, Any]] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.events.append(orjson.loads(raw))
        except ConnectionClosed:
            pass

    def types(self, call_sid: str | None = None) -> list[str]:
        return [e["type"] for e in self.events if call_sid is None or e["call_sid"] == call_sid]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def wait_for(self, kind: str, timeout_s: float = 10.0) -> dict[str, Any]:
        await poll_until(lambda: bool(self.of_type(kind)), timeout_s)
        return self.of_type(kind)[0]

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await self._reader


@dataclass
class E2E:
    gw: Gateway
    agent: ElevenLabsStandIn
    twilio: TwilioStandIn

    @property
    def voice_url(self) -> str:
        return f"{self.gw.settings.public_url}/twilio/voice"

    @property
    def status_url(self) -> str:
        return f"{self.gw.settings.public_url}/twilio/status"

    # --- operator -------------------------------------------------------------------

    async def place_call(
        self,
        to: str = DEBTOR,
        *,
        opening_mode: str = "agent_first",
        key: str = ORG_A_KEY,
        account_id: str | None = None,
        variables: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        org = "org-a" if key == ORG_A_KEY else "org-b"
        account_id = account_id or f"ACC{to}"  # one account per number unless told
        await ensure_account(self.gw, org, account_id, to)
        body = {
            "account_id": account_id,
            "to": to,
            "opening_mode": opening_mode,
            "language": "en",
            "variables": variables or {"debtor_first_name": "Ann", "org_name": "Acme"},
        }
        response = await self.gw.http.post("/api/calls", json=body, headers={"X-API-Key": key})
        assert response.status_code == 201, response.text
        placed: dict[str, Any] = response.json()
        return placed

    async def get_call(self, ref: str, key: str = ORG_A_KEY) -> dict[str, Any]:
        response = await self.gw.http.get(f"/api/calls/{ref}", headers={"X-API-Key": key})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ended_call(self, ref: str, timeout_s: float = 15.0) -> dict[str, Any]:
        """The call's record once the gateway has finished it."""
        deadline = time.monotonic() + timeout_s
        while True:
            record = await self.get_call(ref)
            if record["ended_at"] is not None:
                return record
            assert time.monotonic() < deadline, f"call {ref} did not end: {record}"
            await asyncio.sleep(0.02)

    # --- phone network --------------------------------------------------------------

    def callee(self, number: str, person: CallerScript, **options: Any) -> None:
        """What the phone at ``number`` does when the gateway calls it."""
        self.twilio.callees[number] = Callee(caller=person, **options)

    async def inbound_call(self, person: CallerScript, from_: str = INBOUND_FROM) -> TwilioCall:
        return await self.twilio.simulate_inbound_call(
            from_,
            GATEWAY_NUMBER,
            self.voice_url,
            caller=person,
            status_callback=self.status_url,
            status_callback_events=("initiated", "ringing", "answered", "completed"),
        )

    async def call_end(self, sid: str, timeout_s: float = 20.0) -> TwilioCall:
        return await self.twilio.wait_for_call_end(sid, timeout_s)

    async def stream_of(self, sid: str, timeout_s: float = 10.0) -> StreamRecord:
        call = self.twilio.calls[sid]
        await poll_until(lambda: call.stream is not None, timeout_s)
        assert call.stream is not None
        return call.stream

    async def conversation_of(self, call_sid: str, timeout_s: float = 10.0) -> ConversationRecord:
        """The (first) agent conversation the gateway opened for ``call_sid``."""

        def find() -> ConversationRecord | None:
            for conv in list(self.agent.conversations.values()):
                init = conv.init or {}
                if init.get("dynamic_variables", {}).get("call_sid") == call_sid:
                    return conv
            return None

        await poll_until(lambda: find() is not None, timeout_s)
        found = find()
        assert found is not None
        return found

    # --- supervisor -----------------------------------------------------------------

    @asynccontextmanager
    async def live(
        self, key: str = ORG_A_KEY, call_sid: str | None = None
    ) -> AsyncIterator[LiveFeed]:
        url = self.gw.url.replace("http://", "ws://") + f"/live?api_key={key}"
        if call_sid:
            url += f"&call_sid={call_sid}"
        hub = self.gw.services.hub
        before = hub.subscriber_count
        async with connect(url) as ws:
            feed = LiveFeed(ws)
            feed.start()
            await poll_until(lambda: hub.subscriber_count > before, 5)
            try:
                yield feed
            finally:
                await feed.close()

    # --- gateway state --------------------------------------------------------------

    async def idle(self, timeout_s: float = 5.0) -> None:
        """Wait until the gateway has no call running and no prewarmed session."""
        services = self.gw.services
        await poll_until(lambda: not services.runners and len(services.prewarm) == 0, timeout_s)


@asynccontextmanager
async def e2e(
    tmp: Path,
    *,
    options: AgentOptions | None = None,
    agent_script: Script | Callable[[Any], Script] | None = None,
    signed_urls: bool = True,
    **settings: Any,
) -> AsyncIterator[E2E]:
    """Run both stand-ins and a gateway pointed at them; see the module docstring.

    ``agent_script`` is the stand-in agent's script (default :data:`SHORT`);
    ``signed_urls`` makes the agent private (the gateway fetches signed URLs with
    its API key); ``settings`` override the gateway's settings.
    """
    opts = options or agent_options()
    if opts.script is None:
        opts = dataclasses.replace(opts, script=agent_script or SHORT)
    if signed_urls:
        opts = dataclasses.replace(opts, require_auth=True, api_key=ELEVENLABS_KEY)
    agent = ElevenLabsStandIn(opts)
    twilio = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN, say_s_per_char=0.005, pause_scale=0.01)
    async with AsyncExitStack() as stack:
        await agent.start()
        stack.push_async_callback(agent.stop)
        await twilio.start()
        values: dict[str, Any] = {
            "twilio_api_url": twilio.rest_url,
            "elevenlabs_ws_url": agent.ws_url,
            "elevenlabs_api_url": agent.base_url,
            "default_locale": "en-US",
            "agent_connect_timeout_s": 3.0,
        }
        if signed_urls:
            values["elevenlabs_api_key"] = ELEVENLABS_KEY
        values.update(settings)
        try:
            gw = await stack.enter_async_context(Gateway(tmp, **values))
        finally:
            # Stopped first: live calls hang up while the gateway is still there.
            stack.push_async_callback(twilio.stop)
        yield E2E(gw, agent, twilio)


def wav_channels(path: Path) -> tuple[int, int, float]:
    """(channels, sample rate, seconds) of a WAV file."""
    with wave.open(str(path)) as wav:
        return wav.getnchannels(), wav.getframerate(), wav.getnframes() / wav.getframerate()


def wav_rms(path: Path) -> list[float]:
    """RMS level of each channel of a 16-bit WAV file."""
    with wave.open(str(path)) as wav:
        channels = wav.getnchannels()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    samples = data.reshape(-1, channels).astype(np.float64)
    return [float(x) for x in np.sqrt(np.mean(samples**2, axis=0))]


async def recording_of(record: dict[str, Any], timeout_s: float = 5.0) -> Path:
    """The call's recording, once written (it is written beside the call path)."""
    path = Path(record["recording_path"])
    assert record["recording_path"], "the call has no recording"
    await poll_until(path.is_file, timeout_s)
    return path
