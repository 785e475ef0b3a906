"""The Media Streams client: Twilio's side of ``<Connect><Stream>``.

Why it matters: this is the socket the gateway lives on. The client behaves like
Twilio (reference §1):

- it opens the websocket to the stream URL with ``X-Twilio-Signature`` computed over
  that exact URL and no parameters (the query string is dropped first: ``<Stream
  url>`` does not support one), then sends ``connected`` and ``start``;
- it sends one ``media`` frame (160 mu-law bytes, 20 ms) per tick from a monotonic
  schedule, ``sequenceNumber``/``chunk``/``timestamp`` as strings; a late tick
  sends its frame at once rather than shifting the schedule, so there is no drift;
- it plays the gateway's ``media`` through a :class:`PlayQueue` at real time,
  echoes marks when their audio has played, and honours ``clear``;
- protocol faults never raise: binary frames are warning 31950, anything else that
  breaks the protocol (unknown event, wrong ``streamSid``, extra fields, bad
  payload) is warning 31951, as Twilio reports them;
- it ends with ``stop`` when the call ends on Twilio's side (hang-up, TwiML
  replaced), or without one when the gateway closes the socket.

The tick is cheap by design (no per-tick allocation beyond the JSON text), because
the benchmark runs hundreds of these at once. With ``probe_frames`` each outgoing
frame carries its chunk number (:mod:`gateway.standins.frame_tag`) and each agent
``media`` received is logged with its receive time in ns.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from gateway.standins import frame_tag
from gateway.standins.twilio_caller import SILENCE_FRAME, CallerVoice
from gateway.standins.twilio_playback import PlayQueue
from gateway.standins.twilio_records import FRAME_S, MarkEcho, StreamRecord

USER_AGENT = "Twilio.TmeWs/1.0"
_MEDIA_KEYS = frozenset({"event", "streamSid", "media"})
_MARK_KEYS = frozenset({"event", "streamSid", "mark"})
_CLEAR_KEYS = frozenset({"event", "streamSid"})


def strip_query(url: str) -> str:
    """Twilio connects to ``<Stream url>`` without its query string (reference §1.5)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


class MediaStreamClient:
    """One media stream; :meth:`run` returns why it ended."""

    def __init__(
        self,
        *,
        record: StreamRecord,
        signature: str,
        account_sid: str,
        call_sid: str,
        voice: CallerVoice | None,
        probe_frames: bool = False,
        on_hangup: Callable[[], None] | None = None,
    ) -> None:
        self.record = record
        self._signature = signature
        self._account_sid = account_sid
        self._call_sid = call_sid
        self._voice = voice
        self._probe = probe_frames
        self._on_hangup = on_hangup
        self._queue = PlayQueue()
        self._ws: ClientConnection | None = None
        self._sequence = 0
        self._send_lock = asyncio.Lock()
        self._mark_arrivals: dict[str, list[float]] = {}
        self._stopping = False
        self._keys: list[str] = []

    # --- public ---------------------------------------------------------------------

    async def run(self) -> str:
        rec = self.record
        try:
            self._ws = await connect(
                rec.connect_url,
                additional_headers={"X-Twilio-Signature": self._signature},
                user_agent_header=USER_AGENT,
                max_size=16 * 1024 * 1024,
                compression=None,
                open_timeout=10,
            )
        except InvalidStatus as exc:
            rec.handshake_status = exc.response.status_code
            rec.error = f"handshake answered {exc.response.status_code}"
            return self._end("rejected")
        except (OSError, WebSocketException, TimeoutError) as exc:
            rec.error = f"{type(exc).__name__}: {exc}"
            return self._end("connect-failed")
        rec.connected_at = time.monotonic()
        try:
            await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            await self._send(
                {
                    "event": "start",
                    "streamSid": rec.stream_sid,
                    "start": {
                        "streamSid": rec.stream_sid,
                        "accountSid": self._account_sid,
                        "callSid": self._call_sid,
                        "tracks": ["inbound"],
                        "customParameters": rec.custom_parameters,
                        "mediaFormat": {
                            "encoding": "audio/x-mulaw",
                            "sampleRate": 8000,
                            "channels": 1,
                        },
                    },
                }
            )
            rec.started_at = time.monotonic()
            if self._voice is not None:
                self._voice.started_at = rec.started_at
            reason = await self._pump()
        except ConnectionClosed:
            reason = "stopped" if self._stopping else "server-closed"
        rec.close_code = self._ws.close_code
        return self._end(reason)

    async def stop(self) -> None:
        """End the stream from Twilio's side: send ``stop`` and close the socket."""
        if self._stopping:
            return
        self._stopping = True
        ws = self._ws
        if ws is None:
            return
        with suppress(ConnectionClosed):
            await self._send(
                {
                    "event": "stop",
                    "streamSid": self.record.stream_sid,
                    "stop": {"accountSid": self._account_sid, "callSid": self._call_sid},
                }
            )
            self.record.stop_sent = True
        await ws.close()

    def press(self, digits: str) -> None:
        """Press keys now (sent as ``dtmf`` on the next ticks)."""
        self._keys.extend(digits)

    # --- internals ------------------------------------------------------------------

    def _end(self, reason: str) -> str:
        self.record.end_reason = self.record.end_reason or reason
        self.record.ended_at = time.monotonic()
        return self.record.end_reason

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        async with self._send_lock:
            if message["event"] != "connected":
                self._sequence += 1
                message["sequenceNumber"] = str(self._sequence)
                # Keep Twilio's key order: event, sequenceNumber, streamSid, payload.
                message = {"event": message.pop("event"), **message}
            await self._ws.send(orjson.dumps(message).decode("ascii"))

    async def _pump(self) -> str:
        reader = asyncio.create_task(self._read())
        clock = asyncio.create_task(self._clock())
        try:
            done, _ = await asyncio.wait({reader, clock}, return_when=asyncio.FIRST_COMPLETED)
            if clock in done and clock.result() == "caller-hangup":
                self.record.end_reason = "caller-hangup"
                if self._on_hangup is not None:
                    self._on_hangup()
                await self.stop()
                with suppress(ConnectionClosed):
                    await reader
                return "caller-hangup"
            await reader
            return "stopped" if self._stopping else "server-closed"
        finally:
            for task in (reader, clock):
                task.cancel()
            await asyncio.gather(reader, clock, return_exceptions=True)

    async def _clock(self) -> str:
        rec = self.record
        start = time.monotonic()
        chunk = 0
        playing_since: float | None = None
        while not self._stopping:
            due = start + chunk * FRAME_S
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            chunk += 1
            played, echoes = self._queue.tick()
            if played:
                rec.played += played
                if playing_since is None:
                    playing_since = now
            elif playing_since is not None:
                rec.played_segments.append((playing_since, now))
                playing_since = None
            tick = self._voice.tick(now, bool(played)) if self._voice else None
            frame = tick.frame if tick is not None else SILENCE_FRAME
            if self._probe:
                frame = frame_tag.tag_frame(frame, chunk)
            await self._send(
                {
                    "event": "media",
                    "streamSid": rec.stream_sid,
                    "media": {
                        "track": "inbound",
                        "chunk": str(chunk),
                        "timestamp": str((chunk - 1) * 20),
                        "payload": base64.b64encode(frame).decode("ascii"),
                    },
                }
            )
            rec.frames_sent += 1
            rec.frame_times.append(now)
            rec.sequence_numbers.append(self._sequence)
            await self._echo(echoes, now, cleared=False)
            keys = list(tick.dtmf) if tick is not None else []
            keys += self._keys
            self._keys.clear()
            for digit in keys:
                await self._send(
                    {
                        "event": "dtmf",
                        "streamSid": rec.stream_sid,
                        "dtmf": {"track": "inbound_track", "digit": digit},
                    }
                )
                rec.dtmf_sent.append(digit)
            if tick is not None and tick.hangup:
                if playing_since is not None:
                    rec.played_segments.append((playing_since, now))
                return "caller-hangup"
        if playing_since is not None:
            rec.played_segments.append((playing_since, time.monotonic()))
        return "stopped"

    async def _echo(self, names: list[str], now: float, *, cleared: bool) -> None:
        for name in names:
            arrivals = self._mark_arrivals.get(name)
            received = arrivals.pop(0) if arrivals else now
            self.record.marks_echoed.append(MarkEcho(name, received, now, cleared))
            await self._send(
                {"event": "mark", "streamSid": self.record.stream_sid, "mark": {"name": name}}
            )

    async def _read(self) -> None:
        assert self._ws is not None
        async for raw in self._ws:
            names, cleared = self._on_message(raw)
            if names:
                await self._echo(names, time.monotonic(), cleared=cleared)

    def _warn(self, code: int, detail: str) -> None:
        self.record.warnings.append((code, detail))

    def _on_message(self, raw: str | bytes) -> tuple[list[str], bool]:
        """Apply one message; return (marks to echo now, whether a clear caused it)."""
        rec = self.record
        if isinstance(raw, bytes):
            rec.messages_received["binary"] += 1
            self._warn(31950, "binary frame received")
            return [], False
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            msg = None
        if not isinstance(msg, dict):
            rec.messages_received["invalid"] += 1
            self._warn(31951, "not a JSON object")
            return [], False
        event = msg.get("event")
        rec.messages_received[str(event)] += 1
        if msg.get("streamSid") != rec.stream_sid:
            self._warn(31951, f"{event}: wrong or missing streamSid")
            return [], False
        if event == "media":
            self._on_media(msg)
            return [], False
        if event == "mark":
            return self._on_mark(msg), False
        if event == "clear":
            if set(msg) - _CLEAR_KEYS:
                self._warn(31951, "clear: unexpected fields")
            names, dropped = self._queue.clear()
            rec.clears.append(time.monotonic())
            rec.dropped_bytes += dropped
            return names, True
        self._warn(31951, f"unknown event {event!r}")
        return [], False

    def _on_media(self, msg: dict[str, Any]) -> None:
        rec = self.record
        media = msg.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(payload, str):
            self._warn(31951, "media: missing payload")
            return
        if set(msg) - _MEDIA_KEYS or (isinstance(media, dict) and set(media) - {"payload"}):
            self._warn(31951, "media: unexpected fields")
        try:
            audio = base64.b64decode(payload, validate=True)
        except binascii.Error:
            self._warn(31951, "media: payload is not base64")
            return
        now = time.monotonic()
        if rec.first_media_at is None:
            rec.first_media_at = now
        rec.media_bytes_received += len(audio)
        if self._probe:
            rec.frame_probe.append((time.monotonic_ns(), frame_tag.read_tag(audio), len(audio)))
        self._queue.push_media(audio)

    def _on_mark(self, msg: dict[str, Any]) -> list[str]:
        mark = msg.get("mark")
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str):
            self._warn(31951, "mark: missing name")
            return []
        if set(msg) - _MARK_KEYS or (isinstance(mark, dict) and set(mark) - {"name"}):
            self._warn(31951, "mark: unexpected fields")
        self.record.marks_received.append(name)
        self._mark_arrivals.setdefault(name, []).append(time.monotonic())
        return self._queue.push_mark(name)
