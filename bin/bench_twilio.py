"""The benchmark's lean Twilio peer (webhook + Media Streams client), in its own process.

Each bench call is an inbound call, as Twilio places it: a signed ``POST /twilio/voice``,
the TwiML's ``<Connect><Stream url>`` and ``<Parameter>``s, a websocket upgrade signed
over that exact URL with no parameters, then ``connected``, ``start``, a tagged 160-byte
``media`` frame every 20 ms for the call's length, ``stop``, and the close.

Agent audio is "played" by a per-call model: each received frame extends the call's
play-out end by 20 ms (from now, if the queue had run dry). A received ``mark`` is
echoed once the audio queued before it has played; ``clear`` empties the queue and
echoes pending marks at once (reference ``twilio-resend.md`` §1.4). The shared ticker
sends every call's frame and the echoes that fell due; nothing sleeps per call.

The media socket is a lean RFC 6455 client (``bench_ws``): a frame received is read in
the socket's ``data_received`` (no task per call; the gateway's one-frame ``media``
layout is read at known offsets, anything else is parsed), a caller frame is one
``%``-format of a byte template around the tagged payload, masked with a fresh key,
and goes out in one write with the mark echoes that fell due on the same tick. The
webhook is a plain form POST per call (``bench_http``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from twilio.request_validator import RequestValidator

from bin import bench_http, bench_tag, bench_ws
from bin.bench_arrivals import Arrivals
from bin.bench_proc import run_child
from bin.bench_ticker import TICK_NS, Slots, Ticker

FRAME_NS = 20_000_000
FRAME_TICKS = FRAME_NS // TICK_NS
CLOSE_WAIT_S = 5.0
SETUP_TIMEOUT_S = 20.0
MEDIA_PREFIX = b'{"event":"media"'
PAYLOAD_KEY = b'"payload":"'
CONNECTED = b'{"event":"connected","protocol":"Call","version":"1.0.0"}'
#: A caller frame: sequence number, stream SID, chunk, timestamp (ms), base64 payload.
MEDIA_TEMPLATE = (
    b'{"event":"media","sequenceNumber":"%d","streamSid":"%s",'
    b'"media":{"track":"inbound","chunk":"%d","timestamp":"%d","payload":"%s"}}'
)


@dataclass(frozen=True)
class TwilioConfig:
    base_url: str  # the gateway's PARLEY_PUBLIC_URL
    account_sid: str
    auth_token: str
    #: Several gateway processes behind one public URL: call ``i`` goes to
    #: ``targets[i % len(targets)]`` (its TwiML request and its media socket alike, as
    #: a balancer with per-call affinity does); requests stay signed for ``base_url``.
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Run:
    """Place ``calls`` calls, call ``i`` at ``begin_ns + i * spacing_ns``, each ``seconds`` long."""

    calls: int
    seconds: float
    begin_ns: int
    spacing_ns: int
    nonce: int


@dataclass
class TwilioCall:
    """One call as the Twilio peer saw it."""

    index: int
    call_sid: str
    agent: Arrivals
    error: str = ""
    start_sent_ns: int = 0
    first_media_ns: int = 0
    frames_sent: int = 0
    stop_sent_ns: int = 0
    media_received: int = 0
    clears_ns: list[int] = field(default_factory=list)  # arrivals at the socket
    clears_read_ns: list[int] = field(default_factory=list)  # and when they were read
    marks_received: int = 0
    marks_echoed: int = 0
    other_messages: int = 0
    closed_by_gateway: bool = False
    close_code: int | None = None


def caller_number(index: int) -> str:
    """The bench caller's number: a valid Spanish mobile per call (the bench organization
    is Spanish; accounts seeded for the tool stage are found by it)."""
    return f"+346001{index % 100_000:05d}"


@dataclass
class TwilioReport:
    calls: list[TwilioCall]
    tick_lateness_ns: list[int]


def call_sid(nonce: int, index: int) -> str:
    return f"CA{nonce:024x}{index:08x}"


def stream_sid(nonce: int, index: int) -> str:
    return f"MZ{nonce:024x}{index:08x}"


class _Line:
    """A connected call's live state (the ticker's and the socket's)."""

    __slots__ = (
        "account_sid",
        "frames_total",
        "marks",
        "media_head",
        "media_len",
        "msg_seq",
        "play_end_ns",
        "rec",
        "sending",
        "sent_all",
        "sid",
        "sid_bytes",
        "ws",
    )

    def __init__(self, rec: TwilioCall, sid: str, account_sid: str, frames: int) -> None:
        self.ws: bench_ws.WsEndpoint | None = None
        self.account_sid = account_sid
        self.rec = rec
        self.sid = sid
        self.sid_bytes = sid.encode("ascii")
        # The gateway's one-frame ``media`` message to this stream (``media_message``).
        self.media_head = b'{"event":"media","streamSid":"%s","media":{"payload":"' % self.sid_bytes
        self.media_len = len(self.media_head) + bench_tag.FRAME_B64 + len(b'"}}')
        self.frames_total = frames
        self.msg_seq = 1  # ``start`` was 1
        self.play_end_ns = 0
        self.marks: deque[tuple[int, str]] = deque()
        self.sending = True
        self.sent_all = asyncio.Event()

    def send(self, messages: list[bytes]) -> None:
        """Send these messages in one write (nothing once the socket is closing)."""
        if messages:
            assert self.ws is not None
            self.ws.send_texts(messages)

    def frame_message(self) -> bytes:
        """The call's next tagged ``media`` message, stamped now."""
        rec = self.rec
        k = rec.frames_sent
        self.msg_seq += 1
        rec.frames_sent = k + 1
        payload = bench_tag.frame_b64_bytes(rec.index, k, time.monotonic_ns())
        return MEDIA_TEMPLATE % (self.msg_seq, self.sid_bytes, k + 1, k * 20, payload)

    def stop_message(self) -> bytes:
        self.msg_seq += 1
        self.rec.stop_sent_ns = time.monotonic_ns()
        return orjson.dumps(
            {
                "event": "stop",
                "sequenceNumber": str(self.msg_seq),
                "streamSid": self.sid,
                "stop": {"accountSid": self.account_sid, "callSid": self.rec.call_sid},
            }
        )

    def echoes(self, now: int, out: list[bytes], *, everything: bool = False) -> list[bytes]:
        """Append to ``out``, in order, the echo of every mark whose audio has played by
        ``now`` (or of all of them); returns ``out``."""
        marks = self.marks
        while marks and (everything or marks[0][0] <= now):
            _, name = marks.popleft()
            self.msg_seq += 1
            self.rec.marks_echoed += 1
            out.append(
                b'{"event":"mark","sequenceNumber":"%d","streamSid":"%s","mark":{"name":%s}}'
                % (self.msg_seq, self.sid_bytes, orjson.dumps(name))
            )
        return out

    def on_message(self, opcode: int, message: bytes, now: int, arrived: int) -> None:
        """One whole message from the gateway (called from the socket's ``data_received``):
        read at ``now``, its bytes at the socket since ``arrived`` (what is timed)."""
        rec = self.rec
        if opcode != bench_ws.OP_TEXT:
            rec.other_messages += 1
            return
        if len(message) == self.media_len and message.startswith(self.media_head):
            # One 20 ms frame in the layout the gateway writes: the tag is at a known place.
            at = len(self.media_head)
            rec.media_received += 1
            if not rec.first_media_ns:
                rec.first_media_ns = arrived
            rec.agent.note(bench_tag.read_b64(message[at : at + bench_tag.TAG_B64]), now, arrived)
            end = self.play_end_ns
            self.play_end_ns = (end if end > now else now) + FRAME_NS
            return
        if message.startswith(MEDIA_PREFIX):
            at = message.find(PAYLOAD_KEY)
            end = message.find(b'"', at + len(PAYLOAD_KEY))
            if at < 0 or end < 0:
                rec.other_messages += 1
                return
            at += len(PAYLOAD_KEY)
            rec.media_received += 1
            if not rec.first_media_ns:
                rec.first_media_ns = arrived
            tags = bench_tag.read_payload(message[at:end])
            for tagged in tags:
                rec.agent.note(tagged, now, arrived)
            self.play_end_ns = max(self.play_end_ns, now) + FRAME_NS * len(tags)
            return
        self._control(message, now, arrived)

    def _control(self, message: bytes, now: int, arrived: int) -> None:
        rec = self.rec
        try:
            msg = orjson.loads(message)
            event = msg["event"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            rec.other_messages += 1
            return
        if event == "mark":
            rec.marks_received += 1
            self.marks.append((self.play_end_ns, str(msg["mark"]["name"])))
            self.send(self.echoes(now, []))
        elif event == "clear":
            rec.clears_ns.append(arrived)
            rec.clears_read_ns.append(now)
            self.play_end_ns = now
            self.send(self.echoes(now, [], everything=True))
        else:
            rec.other_messages += 1


class TwilioPeer:
    """The command handler of the Twilio peer process."""

    def __init__(self, config: TwilioConfig) -> None:
        self.config = config
        self.validator = RequestValidator(config.auth_token)
        self.voice_url = config.base_url.rstrip("/") + "/twilio/voice"
        self.active: Slots[_Line] = Slots(FRAME_TICKS)
        self.ticker = Ticker(self._tick)

    async def __call__(self, command: Any) -> Any:
        if isinstance(command, Run):
            return await self._run(command)
        raise ValueError(f"unknown command {command!r}")

    async def aclose(self) -> None:
        pass

    async def _run(self, run: Run) -> TwilioReport:
        self.active = Slots(FRAME_TICKS)
        self.ticker = Ticker(self._tick)
        frames = round(run.seconds * 1e9 / FRAME_NS)
        ramp_ns = run.spacing_ns * run.calls
        until = (
            run.begin_ns + ramp_ns + int((run.seconds + SETUP_TIMEOUT_S + 2 * CLOSE_WAIT_S) * 1e9)
        )
        ticker = asyncio.create_task(self.ticker.run(until))
        records = [TwilioCall(i, call_sid(run.nonce, i), Arrivals(i)) for i in range(run.calls)]
        tasks = []
        try:
            for i, rec in enumerate(records):
                delay = (run.begin_ns + i * run.spacing_ns - time.monotonic_ns()) / 1e9
                if delay > 0:
                    await asyncio.sleep(delay)
                sid = stream_sid(run.nonce, i)
                tasks.append(asyncio.create_task(self._call(rec, sid, frames, run.seconds)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            ticker.cancel()
            await asyncio.gather(ticker, *tasks, return_exceptions=True)
        return TwilioReport(records, list(self.ticker.lateness_ns))

    def _tick(self, tick: int, now: int) -> None:
        self.ticker.recording = len(self.active) > 0
        for line in self.active.due(tick):
            assert line.ws is not None
            if not line.ws.open:
                self._gone(line)  # closing: nothing more may be sent
                continue
            out: list[bytes] = []
            if line.sending:
                if line.rec.frames_sent < line.frames_total:
                    out.append(line.frame_message())
                else:
                    line.sending = False
                    out.append(line.stop_message())
                    line.sent_all.set()
            if line.marks:
                line.echoes(now, out)
            line.send(out)  # the frame and the echoes that fell due: one write

    def _gone(self, line: _Line) -> None:
        self.active.remove(line.rec.index, line.rec.index)
        if line.sending:
            line.sending = False
            line.rec.error = line.rec.error or "media socket closed before the call's end"
        line.sent_all.set()

    async def _call(self, rec: TwilioCall, sid: str, frames: int, seconds: float) -> None:
        line = _Line(rec, sid, self.config.account_sid, frames)
        try:
            async with asyncio.timeout(SETUP_TIMEOUT_S):
                url, parameters = await self._twiml(rec)
                signature = self.validator.compute_signature(url, {})
                ws = await bench_ws.connect(
                    self._routed(rec, url),
                    line.on_message,
                    headers={"X-Twilio-Signature": signature},
                    max_size=2**20,
                    close_timeout_s=2,
                )
        except Exception as exc:
            rec.error = f"set-up: {type(exc).__name__}: {exc}"[:300]
            return
        line.ws = ws
        try:
            if not ws.send_text(CONNECTED):
                raise ConnectionError
            start = _start_message(self.config.account_sid, rec.call_sid, sid, parameters)
            rec.start_sent_ns = time.monotonic_ns()
            if not ws.send_text(start):
                raise ConnectionError
            self.active.add(rec.index, rec.index, line)  # slots dealt round-robin
            ws.closed.add_done_callback(lambda _: self._gone(line))
            await asyncio.wait_for(line.sent_all.wait(), seconds + SETUP_TIMEOUT_S)
            # After ``stop`` the gateway ends the call and closes the socket.
            await asyncio.wait_for(asyncio.shield(ws.closed), CLOSE_WAIT_S)
            rec.closed_by_gateway = True
        except ConnectionError:
            rec.error = rec.error or "media socket closed during start"
        except TimeoutError:
            rec.error = rec.error or "the gateway did not close the media socket after stop"
        finally:
            self.active.remove(rec.index, rec.index)
            ws.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(ws.closed), 3)
            ws.abort()
            rec.close_code = ws.close_code

    async def _twiml(self, rec: TwilioCall) -> tuple[str, dict[str, str]]:
        form = {
            "CallSid": rec.call_sid,
            "AccountSid": self.config.account_sid,
            "From": caller_number(rec.index),
            "To": "+15550009999",
            "Direction": "inbound",
            "CallStatus": "ringing",
        }
        signature = self.validator.compute_signature(self.voice_url, form)
        status, body = await bench_http.post_form(
            self._routed(rec, self.voice_url), form, {"X-Twilio-Signature": signature}
        )
        if status != 200:
            raise RuntimeError(f"POST /twilio/voice answered {status}")
        # The TwiML comes from the gateway under test, on loopback.
        stream = ET.fromstring(body).find("Connect/Stream")  # noqa: S314
        if stream is None or not stream.get("url"):
            raise RuntimeError("TwiML has no <Connect><Stream url>")
        parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        return str(stream.get("url")), parameters

    def _routed(self, rec: TwilioCall, public: str) -> str:
        """Where a request signed for ``public`` is really sent (the call's process)."""
        targets = self.config.targets
        if not targets:
            return public
        parts = urlsplit(public)
        target = urlsplit(targets[rec.index % len(targets)])
        return urlunsplit(parts._replace(netloc=target.netloc))


def _start_message(account_sid: str, call: str, sid: str, parameters: dict[str, str]) -> bytes:
    return orjson.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": sid,
            "start": {
                "streamSid": sid,
                "accountSid": account_sid,
                "callSid": call,
                "tracks": ["inbound"],
                "customParameters": parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


async def _start(config: TwilioConfig) -> TwilioPeer:
    return TwilioPeer(config)


def main(conn: Connection, config: TwilioConfig, lifetime_s: float) -> None:
    """Process entry point (see ``bench_proc.Peer``)."""
    run_child(conn, functools.partial(_start, config), lifetime_s)
