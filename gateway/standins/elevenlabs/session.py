"""One ConvAI conversation: the reader, the scripted agent, pings and barge-in.

Why this shape: the real service is full-duplex. While the agent streams a response
it keeps reading the caller's audio, answering tool results and pongs, and it may
have to stop mid-sentence because the caller spoke. So one task reads client
messages (and does voice activity detection inline, since it is cheap), one task
plays the :class:`~gateway.standins.elevenlabs.script.Script`, one pings, and a
watchdog ends a caller turn when their audio simply stops arriving.

Event ids: pings count on their own. Everything else shares one increasing counter:
each agent response takes a new id used by its ``agent_response`` and all its
``audio`` chunks; an ``interruption`` takes a newer id, so a client that drops audio
with ``event_id <=`` the interruption's (the Python SDK rule, reference §3.1) drops
the rest of the interrupted response and nothing after it. A caller turn takes an
id when speech starts, shared by its tentative and final transcripts.

The session never decides how the conversation ends on the client's behalf: it
closes with 1000 after a system ``end_call``, 1008 after a protocol error, and
otherwise waits for the client to close.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
import secrets
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from gateway.standins import agent_audio, frame_tag
from gateway.standins.elevenlabs import agent_binding, server_tools, transcript_log, wire
from gateway.standins.elevenlabs.options import AgentOptions
from gateway.standins.elevenlabs.post_call import build_analysis
from gateway.standins.elevenlabs.records import (
    AgentTurnRecord,
    ClosedBy,
    ConversationRecord,
    PongRecord,
    ToolCallRecord,
    WebhookCallRecord,
)
from gateway.standins.elevenlabs.script import (
    CallTool,
    EndCall,
    JsonScalar,
    Listen,
    MissingVariableError,
    Say,
    Script,
    check_variables,
    default_script,
    fill,
    fill_params,
    result_variables,
)
from gateway.standins.elevenlabs.utterance import Utterance, cut_text, split_chunks
from gateway.standins.elevenlabs.workspace import StoredAgent
from gateway.standins.energy_vad import EnergyVad, SpeechEnded, SpeechStarted
from gateway.standins.speech import synthesize_async

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _UserTurn:
    event_id: int
    typed_text: str | None = None


class AgentSession:
    """Runs one conversation on an accepted socket until it closes.

    ``agent`` is the stored configuration of the conversation's agent, if one was
    created through the REST API (see :mod:`agent_binding`); ``secret`` resolves
    workspace secret ids for webhook tools; ``http`` makes their requests.
    """

    def __init__(
        self,
        ws: ServerConnection,
        options: AgentOptions,
        record: ConversationRecord,
        *,
        agent: StoredAgent | None = None,
        secret: Callable[[str], str | None] = lambda _: None,
        http: httpx.AsyncClient | None = None,
    ):
        self._ws = ws
        self._opt = options
        self._rec = record
        self._agent = agent
        self._secret = secret
        self._http = http
        self._script: Script | None = None
        self._rng = random.Random(options.seed)
        self._event_ids = itertools.count(1)
        self._ping_ids = itertools.count(1)
        self._in_fmt = options.user_input_format
        self._out_fmt = options.output_format
        self._vad = EnergyVad(
            agent_audio.sample_rate(self._in_fmt),
            threshold_rms=options.vad_threshold_rms,
            start_ms=options.vad_start_ms,
            end_ms=options.vad_end_ms,
        )
        self._user_turns: asyncio.Queue[_UserTurn] = asyncio.Queue()
        self._tool_waits: dict[str, asyncio.Future[wire.ToolResult]] = {}
        self._utterance: Utterance | None = None
        self._initiated = False
        self._variables: dict[str, JsonScalar] = {}
        self._voice = "en"
        self._tasks: list[asyncio.Task[None]] = []
        self._closed_by: ClosedBy | None = None
        self._last_audio_at = 0.0
        self._speech_started_ms = 0
        self._turn_event_id = 0
        self._tentative_sent = False
        self._next_listen: str | None = None
        self._last_rtt_ms: int | None = None
        self._windows_since_score = 0

    # --- lifecycle ------------------------------------------------------------------

    async def run(self) -> None:
        """Read until the socket closes, then fill in how it ended."""
        if self._opt.drop_after_s is not None:
            self._spawn(self._drop_later(self._opt.drop_after_s))
        try:
            async for frame in self._ws:
                await self._on_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            await self._shutdown()

    def server_stopping(self) -> None:
        """The stand-in is shutting down: the coming close is ours."""
        self._closed_by = self._closed_by or "server"

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for waiter in self._tool_waits.values():
            waiter.cancel()
        with suppress(Exception):
            await asyncio.wait_for(self._ws.wait_closed(), 5)
        rec = self._rec
        rec.close_code = self._ws.close_code
        rec.close_reason = self._ws.close_reason
        rec.closed_by = self._closed_by or "client"
        rec.closed_at = time.monotonic()
        rec.termination_reason = rec.termination_reason or self._termination_reason()
        rec.analysis = self._analysis()
        rec.closed.set()

    def _termination_reason(self) -> str:
        rec = self._rec
        if rec.ended_with_end_call:
            return "end_call tool was called."
        if rec.closed_by == "dropped":
            return "Connection lost"
        if rec.closed_by == "server":
            return "Server closed the conversation"
        return f"Client disconnected: {rec.close_code if rec.close_code is not None else 1006}"

    def _analysis(self) -> dict[str, Any]:
        script = self._script
        agent = self._agent
        configured = agent.data_collection if agent is not None else None
        first_agent = next(
            (e.message for e in self._rec.transcript if e.role == "agent" and e.message), ""
        )
        return build_analysis(
            script.analysis if script is not None else None,
            configured,
            self._variables,
            f"The agent said: {first_agent}" if first_agent else "No conversation took place.",
        )

    def _spawn(self, coro: Any) -> None:
        self._tasks.append(asyncio.create_task(coro))

    # --- sending --------------------------------------------------------------------

    async def _send(self, event: wire.Json) -> None:
        self._rec.events_sent[event["type"]] += 1
        await self._ws.send(wire.dumps(event))

    async def _fail(self, code: int, error_type: str, message: str) -> None:
        """Send an ``error`` event and close, as the service does on contract errors."""
        event = wire.error(code, error_type, message)
        self._rec.errors_sent.append(event["error_event"])
        self._rec.failed = True
        self._rec.termination_reason = message
        self._closed_by = self._closed_by or "server"
        with suppress(ConnectionClosed):
            await self._send(event)
        await self._ws.close(code, message[:120])

    async def _drop_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._closed_by = "dropped"
        self._ws.transport.abort()

    # --- reading --------------------------------------------------------------------

    async def _on_frame(self, frame: str | bytes) -> None:
        try:
            msg = wire.parse_client_message(frame)
        except wire.ClientMessageError as exc:
            self._rec.message_counts["invalid"] += 1
            await self._fail(1008, exc.error_type, exc.message)
            return
        kind = wire.message_type(msg)
        self._rec.message_counts[kind] += 1
        if isinstance(msg, wire.AudioChunk):
            await self._on_audio(msg.data)
            return
        now = time.monotonic()
        assert isinstance(frame, str)
        self._rec.messages.append((now, kind, orjson.loads(frame)))
        if isinstance(msg, wire.InitiationData):
            await self._on_init(msg)
        elif isinstance(msg, wire.Pong):
            self._on_pong(msg.event_id, now)
        elif isinstance(msg, wire.ToolResult):
            self._on_tool_result(msg, now)
        elif isinstance(msg, wire.ContextualUpdate):
            self._rec.contextual_updates.append(msg.text)
        elif isinstance(msg, wire.UserMessage):
            self._rec.user_messages.append(msg.text)
            self._user_turns.put_nowait(_UserTurn(next(self._event_ids), msg.text))

    async def _on_init(self, msg: wire.InitiationData) -> None:
        if self._initiated:
            return  # recorded above; the service keeps the first one
        self._initiated = True
        rec = self._rec
        agent = self._agent
        rec.init, rec.init_at = msg.raw, time.monotonic()
        if agent is not None:
            refused = agent_binding.override_violations(agent, msg.override)
            if refused and self._opt.strict_overrides:
                await self._fail(
                    1008, "override_error",
                    f"Override for field '{refused[0]}' is not allowed by config.",
                )
                return
        language = msg.agent_override("language")
        if not isinstance(language, str):
            language = agent.language if agent is not None else None
        rec.language = language
        script = self._choose_script(msg)
        self._script = script
        rec.script_language = script.language
        self._voice = script.voice or rec.language or script.language
        system = agent_binding.system_variables(
            rec.conversation_id, rec.agent_id, dt.datetime.now(dt.UTC)
        )
        placeholders = agent.placeholders if agent is not None else {}
        self._variables = {**script.placeholders, **placeholders, **msg.dynamic_variables, **system}
        rec.dynamic_variables = {**msg.dynamic_variables, **system}
        first = msg.agent_override("first_message")
        if isinstance(first, str):
            opening = first
        elif agent is not None and agent.first_message is not None:
            opening = agent.first_message
        else:
            opening = script.first_message
        if agent is not None:
            missing = agent_binding.missing_variables(
                agent, opening, msg.dynamic_variables, self._opt
            )
            if missing:
                await self._fail(
                    1008, "missing_dynamic_variable",
                    f"Missing required dynamic variable: {missing[0]}",
                )
                return
        try:
            check_variables(script, self._variables)
            opening = fill(opening, self._variables)
        except MissingVariableError as exc:
            await self._fail(1008, "missing_dynamic_variable", str(exc))
            return
        await self._send(wire.initiation_metadata(rec.conversation_id, self._out_fmt, self._in_fmt))
        self._spawn(self._run_script(script, opening))
        self._spawn(self._ping_forever())
        self._spawn(self._watch_silence())

    def _choose_script(self, msg: wire.InitiationData) -> Script:
        choice = self._opt.script
        if isinstance(choice, Script):
            return choice
        if choice is not None:
            return choice(msg)
        return default_script(self._rec.language or "en")

    def _on_pong(self, event_id: int, now: float) -> None:
        sent = self._rec.pings_sent.get(event_id)
        rtt = None if sent is None else (now - sent) * 1000
        self._rec.pongs.append(PongRecord(event_id, rtt, now))
        if rtt is not None:
            self._last_rtt_ms = round(rtt)

    def _on_tool_result(self, msg: wire.ToolResult, now: float) -> None:
        for call in self._rec.tool_calls:
            if call.tool_call_id == msg.tool_call_id and call.result_at is None:
                call.result, call.is_error, call.result_at = msg.result, msg.is_error, now
        waiter = self._tool_waits.get(msg.tool_call_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(msg)

    # --- caller audio and turn-taking ---------------------------------------------------

    async def _on_audio(self, data: bytes) -> None:
        rec = self._rec
        rec.audio_chunks_received += 1
        rec.audio_bytes_received += len(data)
        if self._opt.probe_frames:
            rec.frame_probe.append((time.monotonic_ns(), frame_tag.read_tag(data)))
        now = time.monotonic()
        if rec.first_audio_received_at is None:
            rec.first_audio_received_at = now
        if not self._initiated:
            return
        self._last_audio_at = now
        for event in self._vad.feed(agent_audio.decode(data, self._in_fmt)):
            if isinstance(event, SpeechStarted):
                await self._on_speech_started(event, now)
            else:
                self._on_speech_ended(event)
        await self._maybe_tentative()
        await self._maybe_vad_score()

    async def _on_speech_started(self, event: SpeechStarted, now: float) -> None:
        utterance = self._utterance
        if (
            utterance is not None
            and utterance.is_playing(now)
            and not utterance.interrupted.is_set()
        ):
            await self._interrupt(utterance, now)
        self._speech_started_ms = event.at_ms - self._opt.vad_start_ms
        self._turn_event_id = next(self._event_ids)
        self._tentative_sent = False

    def _on_speech_ended(self, event: SpeechEnded) -> None:
        self._rec.user_turns_detected += 1
        self._user_turns.put_nowait(_UserTurn(self._turn_event_id))

    async def _interrupt(self, utterance: Utterance, now: float) -> None:
        utterance.interrupted.set()
        event_id = next(self._event_ids)
        played = utterance.position(now)
        fraction = played / utterance.duration_s if utterance.duration_s else 1.0
        corrected = cut_text(utterance.text, fraction)
        for turn in self._rec.agent_turns:
            if turn.event_id == utterance.event_id:
                turn.interrupted, turn.interruption_event_id = True, event_id
                turn.played_s, turn.corrected_text = played, corrected
        self._rec.interruptions.append(event_id)
        await self._send(wire.interruption(event_id))
        await self._send(
            wire.agent_response_correction(utterance.text, corrected, utterance.event_id)
        )

    async def _maybe_tentative(self) -> None:
        if not self._vad.speaking or self._tentative_sent or self._next_listen is None:
            return
        if self._vad.audio_ms - self._speech_started_ms < self._opt.tentative_after_ms:
            return
        self._tentative_sent = True
        words = fill(self._next_listen, self._variables).split()
        partial = " ".join(words[: max(1, len(words) // 2)])
        await self._send(wire.tentative_user_transcript(partial, self._turn_event_id))

    async def _maybe_vad_score(self) -> None:
        if not self._opt.send_vad_scores:
            return
        self._windows_since_score += 1
        if self._windows_since_score >= 5:
            self._windows_since_score = 0
            score = min(1.0, self._vad.last_rms / (4 * self._opt.vad_threshold_rms))
            await self._send(wire.vad_score(score))

    async def _watch_silence(self) -> None:
        """End a caller turn whose audio stopped arriving (no trailing silence sent)."""
        limit = self._opt.vad_end_ms / 1000
        while True:
            await asyncio.sleep(0.05)
            if self._vad.speaking and time.monotonic() - self._last_audio_at > limit:
                ended = self._vad.force_end()
                if ended is not None:
                    self._on_speech_ended(ended)

    async def _ping_forever(self) -> None:
        while True:
            await asyncio.sleep(self._opt.ping_interval_s)
            event_id = next(self._ping_ids)
            self._rec.pings_sent[event_id] = time.monotonic()
            await self._send(wire.ping(event_id, self._last_rtt_ms))

    # --- the scripted agent --------------------------------------------------------------

    async def _run_script(self, script: Script, opening: str) -> None:
        try:
            await self._play(script, opening)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("elevenlabs_standin.script_failed", conv=self._rec.conversation_id)
            with suppress(ConnectionClosed):
                await self._fail(1011, "unknown_websocket_crash", "Internal server error")

    async def _play(self, script: Script, opening: str) -> None:
        steps = script.steps
        index = 0
        self._next_listen = self._listen_from(script, 0)
        if opening:
            await self._say(opening)
        while index < len(steps):
            self._next_listen = self._listen_from(script, index)
            step = steps[index]
            index += 1
            if isinstance(step, Say):
                await self._say(fill(step.text, self._variables))
            elif isinstance(step, Listen):
                turn = await self._user_turns.get()
                if turn.typed_text is None:
                    text = fill(step.transcript, self._variables)
                    self._rec.user_transcripts.append(text)
                    transcript_log.user_said(self._rec, text, turn.event_id)
                    await self._send(wire.user_transcript(text, turn.event_id))
                else:
                    transcript_log.user_said(self._rec, turn.typed_text, turn.event_id)
            elif isinstance(step, CallTool):
                ok, _ = await self._call_tool(step)
                if not ok and step.end_on_error:
                    index = _last_end_call(script)
            else:
                await self._end_call(step)
                return

    @staticmethod
    def _listen_from(script: Script, index: int) -> str | None:
        for step in script.steps[index:]:
            if isinstance(step, Listen):
                return step.transcript
        return None

    async def _say(self, text: str) -> None:
        opt = self._opt
        pcm = await synthesize_async(
            text, voice=self._voice, sample_rate=agent_audio.sample_rate(self._out_fmt)
        )
        chunks = split_chunks(
            agent_audio.encode(pcm, self._out_fmt), self._out_fmt, opt.chunk_ms, self._rng
        )
        event_id = next(self._event_ids)
        utterance = Utterance(event_id, text, sum(duration for _, duration in chunks))
        turn = AgentTurnRecord(event_id, text, utterance.duration_s)
        self._rec.agent_turns.append(turn)
        self._utterance = utterance
        if opt.first_audio_delay_ms:
            await asyncio.sleep(opt.first_audio_delay_ms / 1000)
        transcript_log.agent_said(self._rec, text, event_id)
        await self._send(wire.agent_response(text, event_id))
        for chunk, duration in chunks:
            if utterance.interrupted.is_set():
                break
            now = time.monotonic()
            if utterance.started_at is None:
                utterance.started_at = turn.first_audio_at = now
            await self._send(wire.audio(chunk, event_id))
            utterance.sent_s += duration
            turn.audio_bytes_sent += len(chunk)
            turn.chunks_sent += 1
            await self._pace(utterance, duration)

    async def _pace(self, utterance: Utterance, duration: float) -> None:
        if self._opt.realtime_pacing:
            lead = self._opt.realtime_lead_ms / 1000
            delay = utterance.ahead_s(time.monotonic()) - lead
        else:
            delay = duration / max(self._opt.burst_speed, 1e-3)
        if delay > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(utterance.interrupted.wait(), delay)

    async def _call_tool(self, step: CallTool) -> tuple[bool, str]:
        """Run one tool call as the agent defines it; speak the matching line."""
        call_id = f"toolu_{secrets.token_hex(12)}"
        params = fill_params(dict(step.parameters), self._variables)
        assert isinstance(params, dict)
        definition = agent_binding.tool_definition(step.name, self._opt, self._agent)
        kind = "client" if definition is None and self._agent is None else None
        if definition is not None:
            kind = str(definition.get("type", "client"))
        record = ToolCallRecord(call_id, step.name, params, time.monotonic(), tool_type=kind or "")
        self._rec.tool_calls.append(record)
        if kind == "client":
            ok = await self._client_tool(step, record)
        elif kind == "webhook":
            assert definition is not None
            ok = await self._webhook_tool(definition, record)
        else:
            # Not a tool this agent has (or of a type the stand-in does not run): the
            # real LLM could not have called it, so the script is wrong for this agent.
            log.warning("elevenlabs_standin.undefined_tool", tool=step.name, type=kind)
            record.result = f"Tool {step.name!r} is not defined on agent {self._rec.agent_id}."
            record.is_error, record.result_at = True, time.monotonic()
            record.tool_type = "undefined"
            ok = False
        result = record.result
        if not isinstance(result, str):
            result = "" if result is None else orjson.dumps(result).decode()
        self._variables.update(result_variables(result))
        line = step.on_success if ok else step.on_error
        if line:
            await self._say(fill(line, self._variables))
        return ok, call_id

    async def _client_tool(self, step: CallTool, record: ToolCallRecord) -> bool:
        call_id = record.tool_call_id
        waiter: asyncio.Future[wire.ToolResult] = asyncio.get_running_loop().create_future()
        self._tool_waits[call_id] = waiter
        transcript_log.tool_called(self._rec, record)
        await self._send(
            wire.client_tool_call(step.name, call_id, record.parameters, next(self._event_ids))
        )
        try:
            result = await asyncio.wait_for(waiter, step.timeout_s)
            ok = not result.is_error
        except TimeoutError:
            record.timed_out = True
            ok = False
        finally:
            self._tool_waits.pop(call_id, None)
        transcript_log.tool_answered(self._rec, record)
        return ok

    async def _webhook_tool(self, definition: Mapping[str, Any], record: ToolCallRecord) -> bool:
        """Call a server tool over HTTP, as the service does (see :mod:`server_tools`)."""
        name, call_id = record.tool_name, record.tool_call_id
        await self._send(wire.agent_tool_request(name, call_id, "webhook", next(self._event_ids)))
        self._variables["system__call_duration_secs"] = transcript_log.seconds_in_call(self._rec)
        try:
            request = server_tools.build_request(
                definition, record.parameters, self._variables, self._secret, self._opt.env_vars
            )
        except (server_tools.WebhookConfigError, MissingVariableError) as exc:
            record.webhook = None
            record.result, record.is_error = f"Tool configuration error: {exc}", True
            record.result_at = time.monotonic()
            transcript_log.tool_called(self._rec, record)
        else:
            record.dropped_parameters = request.dropped
            record.webhook = WebhookCallRecord(
                request.method, request.url, dict(request.headers), request.body
            )
            transcript_log.tool_called(self._rec, record)
            if self._http is None:
                raise RuntimeError("webhook tools need the stand-in's HTTP client")
            outcome = await server_tools.call(self._http, request)
            webhook = record.webhook
            webhook.status, webhook.response_text = outcome.status, outcome.text
            webhook.error, webhook.latency_s = outcome.error, outcome.latency_s
            record.result, record.is_error = outcome.text, outcome.is_error
            record.timed_out = outcome.error == "timeout"
            record.result_at = time.monotonic()
        transcript_log.tool_answered(self._rec, record)
        await self._send(
            wire.agent_tool_response(
                name, call_id, "webhook", is_error=bool(record.is_error),
                event_id=next(self._event_ids),
            )
        )
        return not record.is_error

    async def _end_call(self, step: EndCall) -> None:
        if step.goodbye:
            await self._say(fill(step.goodbye, self._variables))
        self._rec.ended_with_end_call = True
        if step.via == "system":
            call_id = f"toolu_{secrets.token_hex(12)}"
            record = ToolCallRecord(
                call_id, "end_call", {"reason": step.reason}, time.monotonic(),
                result="end_call_success", is_error=False, tool_type="system",
            )
            record.result_at = record.sent_at
            transcript_log.tool_called(self._rec, record)
            transcript_log.tool_answered(self._rec, record)
            await self._send(
                wire.agent_tool_response(
                    "end_call", call_id, "system", is_error=False, event_id=next(self._event_ids)
                )
            )
            await asyncio.sleep(self._opt.end_call_close_delay_s)
            self._closed_by = self._closed_by or "server"
            await self._ws.close(1000, "Agent ended the call")
            return
        ok, call_id = await self._call_tool(
            CallTool("end_call", {"reason": step.reason}, timeout_s=10.0)
        )
        await self._send(
            wire.agent_tool_response(
                "end_call", call_id, "client", is_error=not ok, event_id=next(self._event_ids)
            )
        )
        try:
            await asyncio.wait_for(self._ws.wait_closed(), self._opt.client_end_call_grace_s)
        except TimeoutError:
            self._closed_by = self._closed_by or "server"
            await self._ws.close(1000, "Agent ended the call")


def _last_end_call(script: Script) -> int:
    """Index of the script's final EndCall, or the end of the script if it has none."""
    for index in range(len(script.steps) - 1, -1, -1):
        if isinstance(script.steps[index], EndCall):
            return index
    return len(script.steps)
