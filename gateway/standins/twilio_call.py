"""One simulated phone call, from "queued" to "completed": Twilio's call engine.

Why: the gateway's webhooks are driven by this sequence, and its failure modes
live in the details: status callbacks (only the requested events, plus
``completed``; numbered by ``SequenceNumber``), asynchronous AMD posted separately,
the TwiML fetch with the call's parameters, ``<Connect>`` blocking until the stream
ends, the TwiML after it running only then, and a REST update that replaces the
TwiML mid-stream (the stream gets ``stop``, the new document runs).

Outbound (``calls.create``): initiated -> ringing -> (``Callee.answer``) in-progress
-> AMD -> TwiML (``Twiml`` inline or fetched from ``Url``) -> completed. Inbound
(:meth:`TwilioStandIn.simulate_inbound_call`): the voice URL is fetched with
``CallStatus=ringing`` and ``Direction=inbound``, then the same engine runs.

Control arrives as commands (hang up, redirect) from the REST API or the caller;
each verb runs as a task raced against them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog

from gateway.standins import twilio_twiml as twiml
from gateway.standins.twilio_caller import CallerScript, CallerVoice
from gateway.standins.twilio_media import MediaStreamClient, strip_query
from gateway.standins.twilio_records import CallRecord, StatusPost, StreamRecord
from gateway.standins.twilio_resources import API_VERSION, new_sid, rfc2822
from gateway.standins.twilio_signing import sign
from gateway.standins.twilio_webhooks import WebhookClient

log = structlog.get_logger(__name__)

Answer = Literal["answer", "busy", "no-answer", "failed"]


@dataclass(frozen=True, slots=True)
class Callee:
    """How the other end of the line behaves (the debtor's phone, or an inbound caller)."""

    answer: Answer = "answer"
    ring_s: float = 0.1
    #: AMD verdict: human, machine_start, machine_end_beep, fax, unknown...
    answered_by: str = "human"
    amd_duration_ms: int = 300
    caller: CallerScript = field(default_factory=CallerScript)
    probe_frames: bool = False


@dataclass(frozen=True, slots=True)
class CallRequest:
    """The parts of ``calls.create`` (or a phone number's config) the engine uses."""

    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset()
    machine_detection: str | None = None
    async_amd: bool = False
    async_amd_status_callback: str | None = None
    async_amd_status_callback_method: str = "POST"
    timeout_s: float = 60.0


@dataclass(frozen=True, slots=True)
class CallEnv:
    """What every call of one stand-in shares."""

    account_sid: str
    auth_token: str
    webhooks: WebhookClient
    require_wss: bool = False
    #: Seconds of simulated speech per character of ``<Say>`` text.
    say_s_per_char: float = 0.06
    pause_scale: float = 1.0
    transfer_hold_s: float = 0.5
    #: How the phone at a number behaves when a ``<Dial>`` rings it (None: it answers).
    callee_for: Callable[[str], Callee | None] = lambda number: None


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str


@dataclass(frozen=True, slots=True)
class Redirect:
    twiml: str | None
    url: str | None
    method: str = "POST"


Command = Hangup | Redirect
_HANGUP = "__hangup__"


class CallSimulation:
    """Runs one call; commands arrive through :meth:`hangup` and :meth:`redirect`."""

    def __init__(
        self, record: CallRecord, env: CallEnv, callee: Callee, request: CallRequest
    ) -> None:
        self.record = record
        self._env = env
        self._callee = callee
        self._request = request
        self._commands: asyncio.Queue[Command] = asyncio.Queue()
        self._media: MediaStreamClient | None = None
        self._sequence = 0
        self._background: set[asyncio.Task[None]] = set()
        self._sync_answered_by: str | None = None
        self._aborting = False

    # --- control --------------------------------------------------------------------

    def hangup(self, reason: str) -> None:
        self._commands.put_nowait(Hangup(reason))

    def redirect(self, twiml_doc: str | None, url: str | None, method: str = "POST") -> None:
        self._commands.put_nowait(Redirect(twiml_doc, url, method))

    def press(self, digits: str) -> bool:
        """Press keys on the caller's phone; False if no stream is live."""
        if self._media is None:
            return False
        self._media.press(digits)
        return True

    # --- the call -------------------------------------------------------------------

    async def run_outbound(self) -> None:
        try:
            await self._outbound()
        except Exception as exc:
            log.exception("twilio_standin.call_failed", call_sid=self.record.sid)
            self.record.errors.append(f"stand-in error: {exc!r}")
            await self._finish("failed", "stand-in-error")

    async def run_inbound(self) -> None:
        try:
            await self._inbound()
        except Exception as exc:
            log.exception("twilio_standin.call_failed", call_sid=self.record.sid)
            self.record.errors.append(f"stand-in error: {exc!r}")
            await self._finish("failed", "stand-in-error")

    async def _outbound(self) -> None:
        await self._set_status("initiated", "initiated")
        if await self._wait_command(0.02) is not None:
            await self._finish("canceled", "api-hangup")
            return
        await self._set_status("ringing", "ringing")
        ring = min(self._callee.ring_s, self._request.timeout_s)
        if await self._wait_command(ring) is not None:
            await self._finish("canceled", "api-hangup")
            return
        answer = self._callee.answer
        if answer == "answer" and self._callee.ring_s > self._request.timeout_s:
            answer = "no-answer"  # rang out before the callee picked up
        if answer != "answer":
            await self._finish(answer, answer)
            return
        await self._answer()
        await self._amd()
        request = self._request
        if request.url:  # Twilio ignores Twiml when both are given
            doc = await self._fetch(request.url, request.method, "voice")
        else:
            doc = request.twiml
        await self._execute(doc)
        await self._finish("completed", "twiml-end")

    async def _inbound(self) -> None:
        self.record.status = "ringing"
        self.record.status_history[:] = ["ringing"]
        if self._request.status_callback_events & {"initiated", "ringing"}:
            await self._set_status("ringing", "ringing")
        assert self._request.url is not None
        doc = await self._fetch(self._request.url, self._request.method, "voice")
        await self._answer()
        await self._execute(doc)
        await self._finish("completed", "twiml-end")

    async def _answer(self) -> None:
        self.record.started_at = time.monotonic()
        self.record.start_time = rfc2822()
        await self._set_status("in-progress", "answered")

    async def _amd(self) -> None:
        request = self._request
        if not request.machine_detection:
            return
        if request.async_amd:
            self._spawn(self._post_amd())
            return
        await asyncio.sleep(self._callee.amd_duration_ms / 1000)
        self.record.answered_by = self._sync_answered_by = self._callee.answered_by

    async def _post_amd(self) -> None:
        await asyncio.sleep(self._callee.amd_duration_ms / 1000)
        self.record.answered_by = self._callee.answered_by
        url = self._request.async_amd_status_callback
        if not url:
            return
        params = {
            "AccountSid": self.record.account_sid,
            "AnsweredBy": self._callee.answered_by,
            "CallSid": self.record.sid,
            "MachineDetectionDuration": str(self._callee.amd_duration_ms),
        }
        hook = await self._env.webhooks.send(
            "amd", url, params, self._request.async_amd_status_callback_method
        )
        self.record.webhooks.append(hook)

    async def _wait_command(self, timeout_s: float) -> Command | None:
        try:
            return await asyncio.wait_for(self._commands.get(), timeout_s)
        except TimeoutError:
            return None

    async def _finish(self, status: str, reason: str) -> None:
        rec = self.record
        if rec.ended.is_set():
            return
        rec.end_reason = rec.end_reason or reason
        rec.ended_at = time.monotonic()
        rec.end_time = rfc2822()
        await self._set_status(status, "completed")
        if self._background:
            await asyncio.wait(self._background, timeout=10)
        rec.ended.set()

    # --- status callbacks -----------------------------------------------------------

    def _call_params(self) -> dict[str, str]:
        rec = self.record
        params = {
            "AccountSid": rec.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": rec.sid,
            "CallStatus": rec.status,
            "Called": rec.to,
            "Caller": rec.from_,
            "Direction": rec.direction,
            "From": rec.from_,
            "To": rec.to,
        }
        if self._sync_answered_by is not None:
            params["AnsweredBy"] = self._sync_answered_by
        return params

    async def _set_status(self, status: str, event: str) -> None:
        rec = self.record
        rec.status = status
        if rec.status_history[-1] != status:
            rec.status_history.append(status)
        request = self._request
        if not request.status_callback:
            return
        if event != "completed" and event not in request.status_callback_events:
            return
        params = self._call_params()
        params |= {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(self._sequence),
            "Timestamp": rfc2822(),
        }
        if event == "completed" and rec.duration_s is not None:
            seconds = round(rec.duration_s)
            params |= {"CallDuration": str(seconds), "Duration": str(-(-seconds // 60))}
        elif event == "completed":
            params |= {"CallDuration": "0", "Duration": "0"}
        post = StatusPost(status, self._sequence, time.monotonic())
        self._sequence += 1
        rec.statuses.append(post)
        self._spawn(self._post_status(post, request.status_callback, params))

    async def _post_status(self, post: StatusPost, url: str, params: dict[str, str]) -> None:
        hook = await self._env.webhooks.send(
            "status", url, params, self._request.status_callback_method
        )
        self.record.webhooks.append(hook)
        post.http_status = hook.status

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- TwiML ----------------------------------------------------------------------

    async def _fetch(self, url: str, method: str, kind: str, **extra: str) -> str | None:
        hook = await self._env.webhooks.send(kind, url, self._call_params() | extra, method)
        self.record.webhooks.append(hook)
        if not hook.ok:
            outcome = hook.status or hook.error
            self.record.errors.append(f"11200 HTTP retrieval failure ({kind}): {outcome}")
            return None
        return hook.body

    async def _execute(self, doc: str | None) -> None:
        while doc is not None:
            self.record.twiml.append(doc)
            try:
                verbs = twiml.parse_twiml(doc)
            except twiml.TwimlError as exc:
                self.record.errors.append(f"12100 Document parse failure: {exc}")
                self.record.end_reason = self.record.end_reason or "application-error"
                return
            doc = await self._run_verbs(verbs)
        if not self.record.end_reason and self.record.errors:
            self.record.end_reason = "application-error"

    async def _run_verbs(self, verbs: list[twiml.Verb]) -> str | None:
        """Run a document; return the next document to run, or None to end the call."""
        for verb in verbs:
            verb_task = asyncio.create_task(self._run_verb(verb))
            command_task = asyncio.create_task(self._commands.get())
            done, _ = await asyncio.wait(
                {verb_task, command_task}, return_when=asyncio.FIRST_COMPLETED
            )
            if command_task in done:
                await self._abort(verb_task)
                command = command_task.result()
                if isinstance(command, Hangup):
                    self.record.end_reason = self.record.end_reason or command.reason
                    return None
                self.record.updates.append({"redirect": command.url or "<twiml>"})
                if command.twiml is not None:
                    return command.twiml
                assert command.url is not None
                return await self._fetch(command.url, command.method, "redirect")
            command_task.cancel()
            outcome = verb_task.result()
            if outcome == _HANGUP:
                return None
            if outcome is not None:
                return outcome
        return None

    async def _abort(self, verb_task: asyncio.Task[str | None]) -> None:
        """Stop the running verb; a live stream gets ``stop`` before its socket closes."""
        self._aborting = True
        try:
            media = self._media
            if media is not None:
                await media.stop()
                with suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(verb_task), 5)
            verb_task.cancel()
            await asyncio.gather(verb_task, return_exceptions=True)
        finally:
            self._aborting = False

    async def _run_verb(self, verb: twiml.Verb) -> str | None:
        rec, env = self.record, self._env
        if isinstance(verb, twiml.Connect):
            if verb.stream is None:
                return None
            reason = await self._stream(verb.stream)
            if self._aborting:
                return None
            if reason == "caller-hangup":
                rec.end_reason = rec.end_reason or "caller-hangup"
                return _HANGUP
            if verb.action:
                return await self._fetch(verb.action, verb.method, "action") or _HANGUP
            return None
        if isinstance(verb, twiml.Say):
            rec.says.append(verb.text)
            await asyncio.sleep(min(15.0, len(verb.text) * env.say_s_per_char) * verb.loop)
            return None
        if isinstance(verb, twiml.Play):
            rec.says.append(f"<Play {verb.url}>")
            await asyncio.sleep(env.pause_scale)
            return None
        if isinstance(verb, twiml.Pause):
            await asyncio.sleep(verb.length_s * env.pause_scale)
            return None
        if isinstance(verb, twiml.Hangup | twiml.Reject):
            rec.end_reason = rec.end_reason or "hangup-verb"
            return _HANGUP
        if isinstance(verb, twiml.Dial):
            return await self._dial(verb)
        if isinstance(verb, twiml.Redirect):
            return await self._fetch(verb.url, verb.method, "redirect") or _HANGUP
        rec.errors.append(f"unsupported verb <{verb.tag}> skipped")
        return None

    async def _dial(self, verb: twiml.Dial) -> str | None:
        targets = list(verb.numbers) or (
            [f"conference:{verb.conference}"] if verb.conference else []
        )
        self.record.transfers.extend(targets)
        started = time.monotonic()
        status = "completed"
        for target in verb.targets[:1]:  # parallel dialling is not simulated
            status = await self._ring(target)
        if status == "completed":
            await asyncio.sleep(self._env.transfer_hold_s)
        self.record.dial_results.append(status)
        if not verb.action:
            return None
        extra = {
            "DialCallStatus": status,
            "DialCallSid": new_sid("CA"),
            "DialCallDuration": str(round(time.monotonic() - started)),
        }
        return await self._fetch(verb.action, verb.method, "action", **extra) or _HANGUP

    async def _ring(self, target: twiml.DialNumber) -> str:
        """Ring a dialled number; on an answer, play it its whisper (``<Number url>``)."""
        callee = self._env.callee_for(target.number)
        if callee is not None and callee.answer != "answer":
            await asyncio.sleep(callee.ring_s)
            return callee.answer
        if target.url:
            document = await self._fetch(target.url, target.method, "whisper")
            if document is not None:
                try:
                    verbs = twiml.parse_twiml(document)
                except twiml.TwimlError as exc:
                    self.record.errors.append(f"12100 Document parse failure (whisper): {exc}")
                    return "failed"
                self.record.whispers += [v.text for v in verbs if isinstance(v, twiml.Say)]
        return "completed"

    async def _stream(self, stream: twiml.Stream) -> str:
        url = strip_query(stream.url)
        record = StreamRecord(
            stream_sid=new_sid("MZ"),
            url=url,
            connect_url=self._env.webhooks.connect_url(url),
            custom_parameters=dict(stream.parameters),
        )
        self.record.streams.append(record)
        if url != stream.url:
            record.warnings.append((31951, "<Stream url> query string dropped"))
        if not url.startswith("wss://"):
            record.warnings.append((31922, "stream URL scheme is not wss"))
            if self._env.require_wss:
                record.error = "31922 scheme is not wss"
                record.end_reason = "rejected"
                return "rejected"
        voice = CallerVoice(self._callee.caller, started_at=time.monotonic())
        voice.lines_log = record.caller_lines
        await voice.prepare()
        media = MediaStreamClient(
            record=record,
            signature=sign(self._env.auth_token, url),
            account_sid=self.record.account_sid,
            call_sid=self.record.sid,
            voice=voice,
            probe_frames=self._callee.probe_frames,
        )
        self._media = media
        self._stream_status(stream, record, "stream-started")
        try:
            return await media.run()
        finally:
            self._media = None
            self._stream_status(stream, record, "stream-stopped")

    def _stream_status(self, stream: twiml.Stream, record: StreamRecord, event: str) -> None:
        if not stream.status_callback:
            return
        params = {
            "AccountSid": self.record.account_sid,
            "CallSid": self.record.sid,
            "StreamSid": record.stream_sid,
            "StreamName": stream.name or record.stream_sid,
            "StreamEvent": event,
            "Timestamp": rfc2822(),
        }
        if event == "stream-stopped" and record.end_reason in ("rejected", "connect-failed"):
            params |= {"StreamEvent": "stream-error", "StreamError": record.error or "error"}
        self._spawn(self._post_stream_status(stream, params))

    async def _post_stream_status(self, stream: twiml.Stream, params: dict[str, str]) -> None:
        assert stream.status_callback is not None
        hook = await self._env.webhooks.send(
            "stream-status", stream.status_callback, params, stream.status_callback_method
        )
        self.record.webhooks.append(hook)
