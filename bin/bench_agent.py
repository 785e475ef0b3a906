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

The server is a lean RFC 6455 endpoint (``bench_ws``): each message is handled in the
socket's ``data_received`` (no task per conversation), and each send is one write.

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

from bin import bench_socket, bench_tag, bench_ws
from bin.bench_arrivals import Arrivals
from bin.bench_proc import run_child
from bin.bench_ticker import TICK_NS, Slots, Ticker

CHUNK_FRAMES = 5  # 100 ms of audio per chunk, a multiple of the gateway's 160-byte frames
CHUNK_TICKS = CHUNK_FRAMES * 20_000_000 // TICK_NS  # one slot per conversation per chunk
PING_EVERY_NS = 2_000_000_000
QUIET_BEFORE_END_NS = 500_000_000
MIN_CHUNK_GAP_NS = CHUNK_FRAMES * 20_000_000 - 10_000_000
USER_AUDIO_PREFIX = b'{"user_audio_chunk":"'
USER_AUDIO_FRAME_LEN = len(USER_AUDIO_PREFIX) + 216 + 2  # one 20 ms frame, then '"}'
#: An agent audio chunk: base64 audio, then the response's ``event_id``.
PING_TEMPLATE = b'{"type":"ping","ping_event":{"event_id":%d,"ping_ms":null}}'
AUDIO_TEMPLATE = b'{"type":"audio","audio_event":{"audio_base_64":"%s","event_id":%d}}'
INIT_TIMEOUT_S = 10.0


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
        "key",
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

    def __init__(self, ws: bench_ws.WsEndpoint, rec: AgentCall, expect: Expect) -> None:
        now = rec.connect_ns
        self.ws = ws
        self.rec = rec
        self.index = rec.index
        self.key = 0
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

    def send_chunk(self) -> None:
        rec = self.rec
        if not self.response_open:
            self.response_open = True
            rec.responses.append(Response(self.event_id, self.seq, self.seq))
            self.ws.send_text(_agent_response(self.event_id))
        sent_ns = time.monotonic_ns()
        self.last_chunk_ns = sent_ns
        audio = bench_tag.chunk_b64_bytes(self.index, self.seq, CHUNK_FRAMES, sent_ns)
        self.ws.send_text(AUDIO_TEMPLATE % (audio, self.event_id))
        self.seq += CHUNK_FRAMES
        rec.frames_sent = self.seq
        rec.responses[-1].end_seq = self.seq

    def slot(self, now: int) -> None:
        """This conversation's 100 ms slot."""
        if not self.ws.open:
            return  # closing: nothing more may be sent
        if now >= self.next_ping_ns:
            self.next_ping_ns += PING_EVERY_NS
            ping_id = self.rec.pings_sent + 1
            self.rec.pings_sent = ping_id
            self.pings[ping_id] = time.monotonic_ns()
            self.ws.send_text(PING_TEMPLATE % ping_id)
        if self.tool_every_ns and now >= self.next_tool_ns and now < self.audio_until_ns:
            self.next_tool_ns += self.tool_every_ns
            self.send_tool_call()
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
            self.ws.send_text(
                b'{"type":"interruption","interruption_event":{"event_id":%d}}' % self.event_id
            )
            self.rec.interruptions_ns.append(sent_ns)
            self.event_id += 1
            return  # the next response starts in the next slot
        self.send_chunk()

    def send_tool_call(self) -> None:
        """The next tool of :data:`TOOL_CYCLE` as a ``client_tool_call``."""
        name, parameters = tool_call(self.tools_sent)
        self.tools_sent += 1
        call_id = f"bench-{self.index}-{self.tools_sent}"
        self.tools_pending[call_id] = time.monotonic_ns()
        self.ws.send_text(
            orjson.dumps(
                {
                    "type": "client_tool_call",
                    "client_tool_call": {
                        "tool_name": name,
                        "tool_call_id": call_id,
                        "parameters": parameters,
                    },
                }
            )
        )

    def on_message(self, opcode: int, message: bytes, now: int, arrived: int) -> None:
        """One whole message from the gateway (called from the socket's ``data_received``):
        read at ``now``, its bytes at the socket since ``arrived`` (what is timed)."""
        rec = self.rec
        if opcode == bench_ws.OP_TEXT and message.startswith(USER_AUDIO_PREFIX):
            skip = len(USER_AUDIO_PREFIX)
            if len(message) == USER_AUDIO_FRAME_LEN:
                tagged = bench_tag.read_b64(message[skip : skip + bench_tag.TAG_B64])
                rec.caller.note(tagged, now, arrived)
            else:
                for tagged in bench_tag.read_payload(message[skip:-2]):
                    rec.caller.note(tagged, now, arrived)
            self.caller_heard = True
            return
        try:
            msg = orjson.loads(message)
        except orjson.JSONDecodeError:
            rec.other_messages += 1
            return
        if isinstance(msg, dict) and msg.get("type") == "pong":
            sent = self.pings.pop(msg.get("event_id", -1), None)
            if sent is not None:
                rec.ping_rtt_ns.append(arrived - sent)
        elif isinstance(msg, dict) and msg.get("type") == "client_tool_result":
            sent = self.tools_pending.pop(str(msg.get("tool_call_id")), None)
            if sent is not None:
                rec.tool_rtt_ns.append(arrived - sent)
                if msg.get("is_error"):
                    rec.tool_errors.append(str(msg.get("result", ""))[:120])
        else:
            rec.other_messages += 1


def _tool_cycle(today: dt.date) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("lookup_account", {}),
        (
            "register_promise",
            {"amount": "10.00", "date": (today + dt.timedelta(days=7)).isoformat()},
        ),
        ("lookup_account", {}),
        ("schedule_callback", {"at": f"{today + dt.timedelta(days=1)}T12:00"}),
    ]


#: Tool calls of a bench conversation before its cycle repeats (verify, then the cycle).
TOOL_CYCLE_LENGTH = 1 + len(_tool_cycle(dt.date.today()))


def tool_call(n: int) -> tuple[str, dict[str, Any]]:
    """The n-th tool call of a bench conversation: verify first, then a mix of reads and
    writes as a collections call makes them (balance, promise, callback)."""
    if n == 0:
        return "verify_identity", {"document_last4": "1234"}
    cycle = _tool_cycle(dt.date.today())
    return cycle[(n - 1) % len(cycle)]


def _agent_response(event_id: int) -> bytes:
    return orjson.dumps(
        {
            "type": "agent_response",
            "agent_response_event": {
                "agent_response": "Hello, this is the bench agent speaking.",
                "event_id": event_id,
            },
        }
    )


def _metadata(index: int) -> bytes:
    return orjson.dumps(
        {
            "type": "conversation_initiation_metadata",
            "conversation_initiation_metadata_event": {
                "conversation_id": f"conv_bench_{index}",
                "agent_output_audio_format": "ulaw_8000",
                "user_input_audio_format": "ulaw_8000",
            },
        }
    )


def call_index(call_sid: str) -> int:
    """Bench call SIDs end with the call index in hex (see ``bench_twilio.call_sid``)."""
    return int(call_sid[-8:], 16)


class _Link:
    """One accepted socket: waits for the initiation, then carries its conversation."""

    __slots__ = ("conv", "peer", "timer", "ws")

    def __init__(self, peer: AgentPeer) -> None:
        self.peer = peer
        self.conv: _Conversation | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.ws = bench_ws.WsEndpoint(self.on_message, client=False, max_size=2**20)
        self.ws.opened.add_done_callback(self._opened)
        self.ws.closed.add_done_callback(self._closed)

    def _opened(self, opened: asyncio.Future[None]) -> None:
        if opened.exception() is None:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(INIT_TIMEOUT_S, self._refuse)
            self.peer.links.add(self)

    def _refuse(self) -> None:
        self.peer.refused += 1
        self.ws.close()

    def on_message(self, opcode: int, message: bytes, now: int, arrived: int) -> None:
        if self.conv is not None:
            self.conv.on_message(opcode, message, now, arrived)
            return
        if self.timer is not None:
            self.timer.cancel()
        try:
            init = orjson.loads(message)
            call_sid = str(init["dynamic_variables"]["call_sid"])
            first_message = str(init["conversation_config_override"]["agent"]["first_message"])
            index = call_index(call_sid)
        except (KeyError, TypeError, ValueError):  # (orjson.JSONDecodeError is a ValueError)
            self._refuse()
            return
        self.conv = self.peer.begin(self.ws, index, call_sid, first_message, now)

    def _closed(self, _: asyncio.Future[None]) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.peer.links.discard(self)
        if self.conv is not None:
            self.peer.end(self.conv, self.ws.close_code)


class AgentPeer:
    """The command handler of the agent peer process."""

    def __init__(self) -> None:
        self.expect = Expect(seconds=10.0)
        self.slots: Slots[_Conversation] = Slots(CHUNK_TICKS)
        self._keys = 0
        self.open_count = 0
        self.done: list[AgentCall] = []
        self.refused = 0
        self.links: set[_Link] = set()
        self._closed_event = asyncio.Event()
        self.ticker = Ticker(self._tick)
        self._server: bench_socket.StampedServer | None = None
        self._ticker_task: asyncio.Task[None] | None = None

    async def start(self, lifetime_s: float) -> None:
        self._server = bench_socket.StampedServer(lambda: _Link(self).ws, "127.0.0.1", 1024)
        until = time.monotonic_ns() + int(lifetime_s * 1e9)
        self._ticker_task = asyncio.create_task(self.ticker.run(until))

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.port

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
        for link in list(self.links):
            link.ws.abort()
        if self._server is not None:
            self._server.close()

    async def _collect(self, command: Collect) -> AgentReport:
        deadline = time.monotonic() + command.timeout_s
        await self._until_closed(deadline, calls=command.calls)
        # Conversations the gateway still holds open after its calls ended: close them
        # from this side (ElevenLabs would, after its own timeout) and report them.
        left_open = self.slots.members()
        for conv in left_open:
            conv.rec.left_open = True
            conv.ws.close()
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

    def _tick(self, tick: int, now: int) -> None:
        self.ticker.recording = self.open_count > 0
        for conv in self.slots.due(tick):
            if not conv.open:
                continue
            try:
                conv.slot(now)
            except Exception as exc:  # keep the other calls going
                conv.rec.send_error = f"{type(exc).__name__}: {exc}"[:200]
                conv.open = False

    def begin(
        self, ws: bench_ws.WsEndpoint, index: int, call_sid: str, first_message: str, now: int
    ) -> _Conversation:
        """A conversation whose initiation was read: metadata, greeting, a ticker slot."""
        rec = AgentCall(
            index=index,
            call_sid=call_sid,
            first_message=first_message,
            connect_ns=now,
            caller=Arrivals(index),
        )
        conv = _Conversation(ws, rec, self.expect)
        self._keys += 1
        conv.key = self._keys
        self.open_count += 1
        ws.send_text(_metadata(index))
        if first_message:
            conv.send_chunk()  # the greeting starts at once, before Twilio's start
        self.slots.add(conv.key, index, conv)  # slots dealt round-robin by call
        return conv

    def end(self, conv: _Conversation, close_code: int | None) -> None:
        conv.open = False
        self.slots.remove(conv.key, conv.index)
        conv.rec.close_code = close_code
        self.open_count -= 1
        self.done.append(conv.rec)
        self._closed_event.set()


async def _start(lifetime_s: float) -> AgentPeer:
    peer = AgentPeer()
    await peer.start(lifetime_s)
    return peer


def main(conn: Connection, lifetime_s: float) -> None:
    """Process entry point (see ``bench_proc.Peer``)."""
    run_child(conn, functools.partial(_start, lifetime_s), lifetime_s)
