"""The benchmark's lean ElevenLabs ConvAI peer, run in its own process.

Per conversation: read ``conversation_initiation_client_data`` (the call SID in its
dynamic variables says which bench call it is), answer
``conversation_initiation_metadata`` with ``ulaw_8000`` both ways, and — the inbound
calls of this gateway are agent-first — send the first 100 ms of the greeting at once.
Then, from the shared ticker, each conversation gets one slot every 100 ms in
which it sends the next 100 ms audio chunk (5 tagged frames), a ``ping`` every 2 s,
and every few seconds an ``interruption`` of the current response followed, one slot
later, by a new response with a higher ``event_id``. It reads every
``user_audio_chunk`` and times its tag.

The agent speaks at real-time pace, and its cadence starts once the caller's audio
flows (i.e. once Twilio's ``start`` has reached the gateway): the gateway then never
holds more than its pacing lead, so an agent frame's latency is the gateway's work,
not time spent waiting in its play-out queue.

Agent audio stops half a second before the caller hangs up, so that no agent frame is
in flight when the call ends and every frame sent can be accounted for.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from bin import bench_tag
from bin.bench_arrivals import Arrivals
from bin.bench_proc import run_child
from bin.bench_ticker import TICK_NS, Slots, Ticker

CHUNK_FRAMES = 5  # 100 ms of audio per chunk, a multiple of the gateway's 160-byte frames
CHUNK_TICKS = CHUNK_FRAMES * 20_000_000 // TICK_NS  # one slot per conversation per chunk
PING_EVERY_NS = 2_000_000_000
QUIET_BEFORE_END_NS = 500_000_000
MIN_CHUNK_GAP_NS = CHUNK_FRAMES * 20_000_000 - 10_000_000
USER_AUDIO_PREFIX = '{"user_audio_chunk":"'


@dataclass(frozen=True)
class Expect:
    """Conversations opened from now on last ``seconds``; barge-in every ``interrupt_every_s``;
    a client tool call every ``tool_every_s`` (None: no tool calls)."""

    seconds: float
    interrupt_every_s: float = 3.0
    tool_every_s: float | None = None


@dataclass(frozen=True)
class Collect:
    """Return what was recorded, once ``calls`` conversations have closed (or on timeout)."""

    calls: int
    timeout_s: float


@dataclass(frozen=True)
class PortQuery:
    pass


@dataclass
class Response:
    event_id: int
    first_seq: int
    end_seq: int
    interrupted: bool = False


@dataclass
class AgentCall:
    """One conversation as the agent peer saw it."""

    index: int
    call_sid: str
    first_message: str
    connect_ns: int
    caller: Arrivals
    frames_sent: int = 0
    responses: list[Response] = field(default_factory=list)
    interruptions_ns: list[int] = field(default_factory=list)
    pings_sent: int = 0
    ping_rtt_ns: list[int] = field(default_factory=list)
    other_messages: int = 0
    close_code: int | None = None
    send_error: str = ""
    left_open: bool = False
    slots_skipped: int = 0  # audio slots skipped because the ticker ran late
    tool_rtt_ns: list[int] = field(default_factory=list)
    tool_errors: list[str] = field(default_factory=list)


@dataclass
class AgentReport:
    calls: list[AgentCall]
    tick_lateness_ns: list[int]
    refused: int
    left_open: int  # conversations still open when collected (closed by the peer then)


class _Conversation:
    __slots__ = (
        "audio_until_ns",
        "caller_heard",
        "event_id",
        "index",
        "interrupt_every_ns",
        "last_chunk_ns",
        "next_interrupt_ns",
        "next_ping_ns",
        "next_tool_ns",
        "open",
        "pings",
        "rec",
        "response_open",
        "seq",
        "tool_every_ns",
        "tools_pending",
        "tools_sent",
        "ws",
    )

    def __init__(self, ws: ServerConnection, rec: AgentCall, expect: Expect) -> None:
        now = rec.connect_ns
        self.ws = ws
        self.rec = rec
        self.index = rec.index
        self.open = True
        self.caller_heard = False
        self.event_id = 1
        self.seq = 0
        self.response_open = False
        self.audio_until_ns = now + int(expect.seconds * 1e9) - QUIET_BEFORE_END_NS
        self.interrupt_every_ns = int(expect.interrupt_every_s * 1e9)
        # Spread the first barge-in over a second so that calls do not interrupt together.
        self.next_interrupt_ns = now + 1_200_000_000 + (rec.index % 10) * 100_000_000
        self.next_ping_ns = now + PING_EVERY_NS
        self.pings: dict[int, int] = {}
        self.last_chunk_ns = 0
        self.tool_every_ns = int((expect.tool_every_s or 0) * 1e9)
        self.next_tool_ns = now + 500_000_000 + (rec.index % 10) * 50_000_000
        self.tools_sent = 0
        self.tools_pending: dict[str, int] = {}

    async def send_chunk(self) -> None:
        rec = self.rec
        if not self.response_open:
            self.response_open = True
            rec.responses.append(Response(self.event_id, self.seq, self.seq))
            await self.ws.send(_agent_response(self.event_id))
        sent_ns = time.monotonic_ns()
        self.last_chunk_ns = sent_ns
        audio = bench_tag.chunk_b64(self.index, self.seq, CHUNK_FRAMES, sent_ns)
        await self.ws.send(
            '{"type":"audio","audio_event":{"audio_base_64":"'
            + audio
            + '","event_id":'
            + str(self.event_id)
            + "}}"
        )
        self.seq += CHUNK_FRAMES
        rec.frames_sent = self.seq
        rec.responses[-1].end_seq = self.seq

    async def slot(self, now: int) -> None:
        """This conversation's 100 ms slot."""
        if self.ws.state is not State.OPEN:
            return  # closing: a send would wait for the close handshake, holding the ticker
        if now >= self.next_ping_ns:
            self.next_ping_ns += PING_EVERY_NS
            ping_id = self.rec.pings_sent + 1
            self.rec.pings_sent = ping_id
            self.pings[ping_id] = time.monotonic_ns()
            await self.ws.send(
                '{"type":"ping","ping_event":{"event_id":' + str(ping_id) + ',"ping_ms":null}}'
            )
        if self.tool_every_ns and now >= self.next_tool_ns and now < self.audio_until_ns:
            self.next_tool_ns += self.tool_every_ns
            await self.send_tool_call()
        if not self.caller_heard or now >= self.audio_until_ns:
            return
        if now - self.last_chunk_ns < MIN_CHUNK_GAP_NS:
            # A late ticker catching up must not send audio faster than real time: the
            # gateway would hold the surplus to pace it, and that wait is not latency.
            # (Right after the greeting's first chunk this is just the cadence starting.)
            self.rec.slots_skipped += self.seq > CHUNK_FRAMES
            return
        if now >= self.next_interrupt_ns and self.response_open:
            self.next_interrupt_ns += self.interrupt_every_ns
            self.rec.responses[-1].interrupted = True
            self.response_open = False
            sent_ns = time.monotonic_ns()
            await self.ws.send(
                '{"type":"interruption","interruption_event":{"event_id":'
                + str(self.event_id)
                + "}}"
            )
            self.rec.interruptions_ns.append(sent_ns)
            self.event_id += 1
            return  # the next response starts in the next slot
        await self.send_chunk()

    async def send_tool_call(self) -> None:
        """The next tool of :data:`TOOL_CYCLE` as a ``client_tool_call``."""
        name, parameters = tool_call(self.tools_sent)
        self.tools_sent += 1
        call_id = f"bench-{self.index}-{self.tools_sent}"
        self.tools_pending[call_id] = time.monotonic_ns()
        await self.ws.send(
            orjson.dumps(
                {
                    "type": "client_tool_call",
                    "client_tool_call": {
                        "tool_name": name,
                        "tool_call_id": call_id,
                        "parameters": parameters,
                    },
                }
            ).decode()
        )


def tool_call(n: int) -> tuple[str, dict[str, Any]]:
    """The n-th tool call of a bench conversation: verify first, then a mix of reads and
    writes as a collections call makes them (balance, promise, callback)."""
    if n == 0:
        return "verify_identity", {"document_last4": "1234"}
    today = dt.date.today()
    cycle: list[tuple[str, dict[str, Any]]] = [
        ("lookup_account", {}),
        (
            "register_promise",
            {"amount": "10.00", "date": (today + dt.timedelta(days=7)).isoformat()},
        ),
        ("lookup_account", {}),
        ("schedule_callback", {"at": f"{today + dt.timedelta(days=1)}T12:00"}),
    ]
    return cycle[(n - 1) % len(cycle)]


def _agent_response(event_id: int) -> str:
    return orjson.dumps(
        {
            "type": "agent_response",
            "agent_response_event": {
                "agent_response": "Hello, this is the bench agent speaking.",
                "event_id": event_id,
            },
        }
    ).decode()


def _metadata(index: int) -> str:
    return orjson.dumps(
        {
            "type": "conversation_initiation_metadata",
            "conversation_initiation_metadata_event": {
                "conversation_id": f"conv_bench_{index}",
                "agent_output_audio_format": "ulaw_8000",
                "user_input_audio_format": "ulaw_8000",
            },
        }
    ).decode()


def call_index(call_sid: str) -> int:
    """Bench call SIDs end with the call index in hex (see ``bench_twilio.call_sid``)."""
    return int(call_sid[-8:], 16)


class AgentPeer:
    """The command handler of the agent peer process."""

    def __init__(self) -> None:
        self.expect = Expect(seconds=10.0)
        self.slots: Slots[_Conversation] = Slots(CHUNK_TICKS)
        self._keys = 0
        self.open_count = 0
        self.done: list[AgentCall] = []
        self.refused = 0
        self._closed_event = asyncio.Event()
        self.ticker = Ticker(self._tick)
        self._server: Server | None = None
        self._ticker_task: asyncio.Task[None] | None = None

    async def start(self, lifetime_s: float) -> None:
        self._server = await serve(
            self._conversation,
            "127.0.0.1",
            0,
            compression=None,
            ping_interval=None,
            max_size=2**20,
            close_timeout=2,
        )
        until = time.monotonic_ns() + int(lifetime_s * 1e9)
        self._ticker_task = asyncio.create_task(self.ticker.run(until))

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    async def __call__(self, command: Any) -> Any:
        if isinstance(command, PortQuery):
            return self.port
        if isinstance(command, Expect):
            self.expect = command
            return None
        if isinstance(command, Collect):
            return await self._collect(command)
        raise ValueError(f"unknown command {command!r}")

    async def aclose(self) -> None:
        if self._ticker_task is not None:
            self._ticker_task.cancel()
            await asyncio.gather(self._ticker_task, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 3)
            except TimeoutError:
                pass

    async def _collect(self, command: Collect) -> AgentReport:
        deadline = time.monotonic() + command.timeout_s
        await self._until_closed(deadline, calls=command.calls)
        # Conversations the gateway still holds open after its calls ended: close them
        # from this side (ElevenLabs would, after its own timeout) and report them.
        left_open = self.slots.members()
        for conv in left_open:
            conv.rec.left_open = True
        await asyncio.gather(*(c.ws.close() for c in left_open), return_exceptions=True)
        await self._until_closed(deadline + 3)
        report = AgentReport(
            calls=self.done,
            tick_lateness_ns=list(self.ticker.lateness_ns),
            refused=self.refused,
            left_open=len(left_open),
        )
        self.done = []
        self.refused = 0
        del self.ticker.lateness_ns[:]
        return report

    async def _until_closed(self, deadline: float, calls: int = 0) -> None:
        """Wait until ``calls`` conversations are done and none is open, or the deadline."""
        while len(self.done) < calls or self.open_count:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._closed_event.clear()
            try:
                await asyncio.wait_for(self._closed_event.wait(), left)
            except TimeoutError:
                return

    async def _tick(self, tick: int, now: int) -> None:
        self.ticker.recording = self.open_count > 0
        for conv in self.slots.due(tick):
            if not conv.open:
                continue
            try:
                await conv.slot(now)
            except ConnectionClosed:
                conv.open = False
            except Exception as exc:  # keep the other calls going
                conv.rec.send_error = f"{type(exc).__name__}: {exc}"[:200]
                conv.open = False

    async def _conversation(self, ws: ServerConnection) -> None:
        try:
            init = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            call_sid = str(init["dynamic_variables"]["call_sid"])
            first_message = str(init["conversation_config_override"]["agent"]["first_message"])
            index = call_index(call_sid)
        except (TimeoutError, ConnectionClosed, KeyError, TypeError, ValueError):
            self.refused += 1  # (orjson.JSONDecodeError is a ValueError)
            return
        rec = AgentCall(
            index=index,
            call_sid=call_sid,
            first_message=first_message,
            connect_ns=time.monotonic_ns(),
            caller=Arrivals(index),
        )
        conv = _Conversation(ws, rec, self.expect)
        self._keys += 1
        key = self._keys
        self.open_count += 1
        try:
            await ws.send(_metadata(index))
            if first_message:
                await conv.send_chunk()  # the greeting starts at once, before Twilio's start
            self.slots.add(key, index, conv)  # slots dealt round-robin by call
            await self._read(conv)
        except ConnectionClosed:
            pass
        finally:
            conv.open = False
            self.slots.remove(key, index)
            rec.close_code = ws.close_code
            self.open_count -= 1
            self.done.append(rec)
            self._closed_event.set()

    async def _read(self, conv: _Conversation) -> None:
        rec = conv.rec
        note = rec.caller.note
        read_b64 = bench_tag.read_b64
        prefix = USER_AUDIO_PREFIX
        skip = len(prefix)
        frame_len = bench_tag.FRAME_B64 + skip + 2
        monotonic_ns = time.monotonic_ns
        async for message in conv.ws:
            now = monotonic_ns()
            if type(message) is str and message.startswith(prefix):
                if len(message) == frame_len:
                    note(read_b64(message[skip : skip + bench_tag.TAG_B64]), now)
                else:
                    for tagged in bench_tag.read_payload(message[skip:-2]):
                        note(tagged, now)
                conv.caller_heard = True
                continue
            try:
                msg = orjson.loads(message)
            except orjson.JSONDecodeError:
                rec.other_messages += 1
                continue
            if isinstance(msg, dict) and msg.get("type") == "pong":
                sent = conv.pings.pop(msg.get("event_id", -1), None)
                if sent is not None:
                    rec.ping_rtt_ns.append(now - sent)
            elif isinstance(msg, dict) and msg.get("type") == "client_tool_result":
                sent = conv.tools_pending.pop(str(msg.get("tool_call_id")), None)
                if sent is not None:
                    rec.tool_rtt_ns.append(now - sent)
                    if msg.get("is_error"):
                        rec.tool_errors.append(str(msg.get("result", ""))[:120])
            else:
                rec.other_messages += 1


async def _start(lifetime_s: float) -> AgentPeer:
    peer = AgentPeer()
    await peer.start(lifetime_s)
    return peer


def main(conn: Connection, lifetime_s: float) -> None:
    """Process entry point (see ``bench_proc.Peer``)."""
    run_child(conn, functools.partial(_start, lifetime_s), lifetime_s)
