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
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import httpx
import orjson
import websockets.frames
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from bin import bench_tag
from bin.bench_arrivals import Arrivals
from bin.bench_proc import run_child
from bin.bench_ticker import TICK_NS, Slots, Ticker

FRAME_NS = 20_000_000
FRAME_TICKS = FRAME_NS // TICK_NS
CLOSE_WAIT_S = 5.0
SETUP_TIMEOUT_S = 20.0
MEDIA_PREFIX = '{"event":"media"'
PAYLOAD_KEY = '"payload":"'


@dataclass(frozen=True)
class TwilioConfig:
    base_url: str  # the gateway's PARLEY_PUBLIC_URL
    account_sid: str
    auth_token: str


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
    clears_ns: list[int] = field(default_factory=list)
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
    """A connected call's live state (the ticker's and the reader's)."""

    __slots__ = (
        "account_sid",
        "frames_total",
        "marks",
        "msg_seq",
        "play_end_ns",
        "rec",
        "sending",
        "sent_all",
        "sid",
        "ws",
    )

    def __init__(
        self, ws: ClientConnection, rec: TwilioCall, sid: str, account_sid: str, frames: int
    ) -> None:
        self.ws = ws
        self.account_sid = account_sid
        self.rec = rec
        self.sid = sid
        self.frames_total = frames
        self.msg_seq = 1  # ``start`` was 1
        self.play_end_ns = 0
        self.marks: deque[tuple[int, str]] = deque()
        self.sending = True
        self.sent_all = asyncio.Event()

    async def send_frame(self) -> None:
        rec = self.rec
        k = rec.frames_sent
        self.msg_seq += 1
        sent_ns = time.monotonic_ns()
        payload = bench_tag.frame_b64(rec.index, k, sent_ns)
        await self.ws.send(
            f'{{"event":"media","sequenceNumber":"{self.msg_seq}","streamSid":"{self.sid}",'
            f'"media":{{"track":"inbound","chunk":"{k + 1}","timestamp":"{k * 20}",'
            f'"payload":"{payload}"}}}}'
        )
        rec.frames_sent = k + 1

    async def send_stop(self) -> None:
        self.msg_seq += 1
        self.rec.stop_sent_ns = time.monotonic_ns()
        await self.ws.send(
            orjson.dumps(
                {
                    "event": "stop",
                    "sequenceNumber": str(self.msg_seq),
                    "streamSid": self.sid,
                    "stop": {"accountSid": self.account_sid, "callSid": self.rec.call_sid},
                }
            ).decode()
        )

    async def echo_due(self, now: int, *, everything: bool = False) -> None:
        """Echo, in order, every mark whose audio has played by ``now`` (or all of them)."""
        marks = self.marks
        while marks and (everything or marks[0][0] <= now):
            _, name = marks.popleft()
            self.msg_seq += 1
            self.rec.marks_echoed += 1
            await self.ws.send(
                '{"event":"mark","sequenceNumber":"'
                + str(self.msg_seq)
                + '","streamSid":"'
                + self.sid
                + '","mark":{"name":'
                + orjson.dumps(name).decode()
                + "}}"
            )


class TwilioPeer:
    """The command handler of the Twilio peer process."""

    def __init__(self, config: TwilioConfig) -> None:
        self.config = config
        self.validator = RequestValidator(config.auth_token)
        self.voice_url = config.base_url.rstrip("/") + "/twilio/voice"
        self.http = httpx.AsyncClient(
            timeout=SETUP_TIMEOUT_S, limits=httpx.Limits(max_connections=64)
        )
        self.active: Slots[_Line] = Slots(FRAME_TICKS)
        self.ticker = Ticker(self._tick)

    async def __call__(self, command: Any) -> Any:
        if isinstance(command, Run):
            return await self._run(command)
        raise ValueError(f"unknown command {command!r}")

    async def aclose(self) -> None:
        await self.http.aclose()

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

    async def _tick(self, tick: int, now: int) -> None:
        self.ticker.recording = len(self.active) > 0
        for line in self.active.due(tick):
            if line.ws.state is not State.OPEN:
                self._gone(line)  # closing: a send would wait for the close handshake
                continue
            try:
                if line.sending:
                    if line.rec.frames_sent < line.frames_total:
                        await line.send_frame()
                    else:
                        line.sending = False
                        await line.send_stop()
                        line.sent_all.set()
                if line.marks:
                    await line.echo_due(now)
            except ConnectionClosed:
                self._gone(line)

    def _gone(self, line: _Line) -> None:
        self.active.remove(line.rec.index, line.rec.index)
        if line.sending:
            line.sending = False
            line.rec.error = line.rec.error or "media socket closed before the call's end"
        line.sent_all.set()

    async def _call(self, rec: TwilioCall, sid: str, frames: int, seconds: float) -> None:
        try:
            async with asyncio.timeout(SETUP_TIMEOUT_S):
                url, parameters = await self._twiml(rec)
                signature = self.validator.compute_signature(url, {})
                ws = await connect(
                    url,
                    additional_headers={"X-Twilio-Signature": signature},
                    compression=None,
                    ping_interval=None,
                    max_size=2**20,
                    open_timeout=None,
                    close_timeout=2,
                )
        except Exception as exc:
            rec.error = f"set-up: {type(exc).__name__}: {exc}"[:300]
            return
        line = _Line(ws, rec, sid, self.config.account_sid, frames)
        reader = asyncio.create_task(self._read(line))
        try:
            await ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
            start = _start_message(self.config.account_sid, rec.call_sid, sid, parameters)
            rec.start_sent_ns = time.monotonic_ns()
            await ws.send(start)
            self.active.add(rec.index, rec.index, line)  # slots dealt round-robin
            await asyncio.wait_for(line.sent_all.wait(), seconds + SETUP_TIMEOUT_S)
            # After ``stop`` the gateway ends the call and closes the socket.
            await asyncio.wait_for(asyncio.shield(reader), CLOSE_WAIT_S)
            rec.closed_by_gateway = True
        except ConnectionClosed:
            rec.error = rec.error or "media socket closed during start"
        except TimeoutError:
            rec.error = rec.error or "the gateway did not close the media socket after stop"
        finally:
            self.active.remove(rec.index, rec.index)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 3)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
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
        response = await self.http.post(
            self.voice_url, data=form, headers={"X-Twilio-Signature": signature}
        )
        if response.status_code != 200:
            raise RuntimeError(f"POST /twilio/voice answered {response.status_code}")
        # The TwiML comes from the gateway under test, on loopback.
        stream = ET.fromstring(response.text).find("Connect/Stream")  # noqa: S314
        if stream is None or not stream.get("url"):
            raise RuntimeError("TwiML has no <Connect><Stream url>")
        parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        return str(stream.get("url")), parameters

    async def _read(self, line: _Line) -> None:
        rec = line.rec
        note = rec.agent.note
        read_b64 = bench_tag.read_b64
        monotonic_ns = time.monotonic_ns
        key_len = len(PAYLOAD_KEY)
        try:
            async for message in line.ws:
                now = monotonic_ns()
                if type(message) is not str:
                    rec.other_messages += 1
                    continue
                if message.startswith(MEDIA_PREFIX):
                    at = message.find(PAYLOAD_KEY)
                    end = message.find('"', at + key_len)
                    if at < 0 or end < 0:
                        rec.other_messages += 1
                        continue
                    at += key_len
                    rec.media_received += 1
                    if not rec.first_media_ns:
                        rec.first_media_ns = now
                    if end - at == bench_tag.FRAME_B64:
                        note(read_b64(message[at : at + bench_tag.TAG_B64]), now)
                        played = FRAME_NS
                    else:
                        tags = bench_tag.read_payload(message[at:end])
                        for tagged in tags:
                            note(tagged, now)
                        played = FRAME_NS * len(tags)
                    line.play_end_ns = max(line.play_end_ns, now) + played
                    continue
                await self._control(line, message, now)
        except ConnectionClosed:
            pass

    async def _control(self, line: _Line, message: str, now: int) -> None:
        rec = line.rec
        try:
            msg = orjson.loads(message)
            event = msg["event"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            rec.other_messages += 1
            return
        if event == "mark":
            rec.marks_received += 1
            line.marks.append((line.play_end_ns, str(msg["mark"]["name"])))
            await line.echo_due(now)
        elif event == "clear":
            rec.clears_ns.append(now)
            line.play_end_ns = now
            await line.echo_due(now, everything=True)
        else:
            rec.other_messages += 1


def _start_message(account_sid: str, call: str, sid: str, parameters: dict[str, str]) -> str:
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
    ).decode()


async def _start(config: TwilioConfig) -> TwilioPeer:
    return TwilioPeer(config)


class _FastMasks:
    """Masking keys from a plain PRNG instead of ``os.urandom`` (a system call each).

    Client frames must be masked, but the key only guards caches of intermediaries
    against poisoning (RFC 6455 §10.3); on loopback, in the load generator, a cheap
    key keeps the peer lean. Nothing else in this process uses ``websockets.frames``'
    ``secrets``.
    """

    token_bytes = staticmethod(random.Random().randbytes)


def main(conn: Connection, config: TwilioConfig, lifetime_s: float) -> None:
    """Process entry point (see ``bench_proc.Peer``)."""
    websockets.frames.secrets = _FastMasks  # type: ignore[attr-defined,assignment]
    run_child(conn, functools.partial(_start, config), lifetime_s)
