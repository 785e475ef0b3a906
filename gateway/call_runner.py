"""The pump of one call: both sockets, the tool runner and the timer around a bridge.

It reads, feeds :class:`~gateway.bridge.CallBridge`, drains it, writes, and carries
out effects. No call rule lives here. Writes to each peer go through one ordered
outbox per peer (:mod:`gateway.outbox`), so a ``clear`` can never overtake the
frames queued before it, even when several tasks (Twilio reader, agent reader, tool
runs, timer) feed the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import structlog
from starlette.types import Receive, Send

from backoffice.calls.sessions import update_session
from gateway import agent_events as ae
from gateway import twilio_events as te
from gateway import twiml
from gateway.agent_session import AgentConnectError, AgentSession
from gateway.bridge import CallBridge
from gateway.call_context import CallContext, initiation_for
from gateway.call_outcomes import record_call_end
from gateway.calls import CallRecord
from gateway.effects import (
    CloseAgent,
    Effect,
    Finished,
    HangUp,
    Publish,
    ReconnectAgent,
    RunTool,
    SayAndHangUp,
    WarmTransfer,
)
from gateway.hub import LiveEvent
from gateway.outbox import Outbox
from gateway.protocol_error import ProtocolError
from gateway.redis_link import RedisUnavailable
from gateway.services import Services
from gateway.ws_server import SetReader, WriteText

log = structlog.get_logger(__name__)

MAX_TWILIO_FRAME = 64 * 1024  # Twilio frames are ~400 bytes; anything huge is not Twilio
LATENCY_SAMPLE = 32  # observe the added latency of one frame in this many
AGENT_LATENCY_SAMPLE = 8  # and of one agent chunk in this many (each is ~5 frames)


class CallRunner:
    """Runs one call from Twilio's ``start`` to the end; see the module docstring."""

    def __init__(
        self,
        services: Services,
        record: CallRecord,
        context: CallContext,
        bridge: CallBridge,
        send: Send,
        write_now: WriteText | None = None,
        set_reader: SetReader | None = None,
    ) -> None:
        self.services = services
        self.record = record
        self.context = context
        self.bridge = bridge
        self._send = send
        # The server's read extension (gateway/ws_server.py), None elsewhere.
        self._set_reader = set_reader
        self._loop = asyncio.get_running_loop()
        self._agent: AgentSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._twilio_open = True
        self._twilio_gone = False  # Twilio closed the socket (we must not close it again)
        # A release is about seven frames and a mark: through ASGI, eight sends and
        # eight system calls. The server's write extension (gateway/ws_server.py)
        # writes the whole batch in one go, or nothing; None under another server.
        self._to_twilio = Outbox(
            write_now=write_now,
            send_one=self._send_twilio,
            is_open=self._twilio_writable,
            spawn=self._spawn,
            name="to-twilio",
        )
        self._to_agent = Outbox(
            write_now=self._write_agent_now,
            send_one=self._send_agent,
            is_open=self._agent_attached,
            spawn=self._spawn,
            name="to-agent",
        )
        self._finished = asyncio.Event()
        self._log = log.bind(
            call_sid=record.call_sid, org_id=record.org_id, account_id=record.account_id
        )
        self._sample = 0
        self._agent_sample = 0
        # Looked up once: a labelled child is a dict lookup and a lock per call.
        latency = services.metrics.added_latency
        self._latency_to_agent = latency.labels("caller_to_agent")
        self._latency_to_caller = latency.labels("agent_to_caller")

    # ---------------------------------------------------------------- lifecycle
    async def run(
        self, start: te.Start, receive: Receive, agent_task: asyncio.Task[AgentSession] | None
    ) -> None:
        """Drive the call until it ends; returns once every task of the call is done."""
        services = self.services
        services.runners[self.record.call_sid] = self
        self.record.answered_at = time.time()
        record = self.record
        services.publish(LiveEvent(record.org_id, record.call_sid, "call.started", record.card()))
        self.bridge.start(start, self._loop.time())
        await self._flush()
        self._spawn(self._connect_agent(agent_task, resume_context=None), "agent-connect")
        if self.record.answered_by:
            self.bridge.answered_by(self.record.answered_by, self._loop.time())
            await self._flush()
        try:
            if self._set_reader is not None:
                self._set_reader(self._twilio_text_now)
            await self._read_twilio(receive)
        finally:
            if self._set_reader is not None:
                self._set_reader(None)
            still_open = self._twilio_open and not self._twilio_gone
            self._twilio_open = False
            self.bridge.twilio_closed(self._loop.time())
            await self._flush()
            if still_open:  # after Twilio's stop: close properly, not by dropping
                try:
                    await self._send({"type": "websocket.close", "code": 1000})
                except (OSError, RuntimeError):
                    pass
            await self._cleanup()
            services.runners.pop(self.record.call_sid, None)

    async def _read_twilio(self, receive: Receive) -> None:
        bridge = self.bridge
        loop = self._loop
        parse = te.parse
        while not bridge.ended:
            message = await receive()
            if message["type"] != "websocket.receive":
                self._twilio_gone = True
                return
            text = message.get("text")
            if text is None or len(text) > MAX_TWILIO_FRAME:
                self._protocol_error("twilio")
                continue
            self._sample += 1
            sampled = self._sample % LATENCY_SAMPLE == 0
            t0 = time.perf_counter() if sampled else 0.0
            try:
                event = parse(text)
            except ProtocolError:
                self._protocol_error("twilio")
                continue
            bridge.twilio_event(event, loop.time())
            await self._flush()
            if sampled:
                self._latency_to_agent.observe(time.perf_counter() - t0)

    def _twilio_text_now(self, text: str) -> bool:
        """Take a caller frame straight from the socket, without a task switch.

        The server offers each message here first (``gateway/ws_server.py``). A
        ``media`` frame in Twilio's own layout is read by :func:`te.media_fields` and
        goes to the bridge without an event being built; any other frame is parsed in
        full. ``media``, ``mark`` and ``dtmf`` are fed to the bridge and drained at once
        (:meth:`_drain_now`; effects go to a flush task). Anything else (``stop``, a
        frame too big or not JSON) and everything once the call has ended is declined
        (False) and reaches :meth:`_read_twilio` through ``receive()``, which deals
        with it exactly as before.
        """
        bridge = self.bridge
        if bridge.ended or len(text) > MAX_TWILIO_FRAME:
            return False
        fields = te.media_fields(text)
        event: te.TwilioEvent | None = None
        if fields is None:
            try:
                event = te.parse(text)
            except ProtocolError:
                return False
            kind = type(event)
            if kind is not te.Media and kind is not te.Mark and kind is not te.Dtmf:
                return False
        self._sample += 1
        sampled = self._sample % LATENCY_SAMPLE == 0
        t0 = time.perf_counter() if sampled else 0.0
        try:
            if fields is not None:
                bridge.caller_media(fields[0], fields[1], fields[2], self._loop.time())
            elif event is not None:
                bridge.twilio_event(event, self._loop.time())
            self._drain_now()
        except Exception:
            # Raised into the server's data_received it would drop the connection
            # unexplained; the task path would have ended the call: do that.
            self._log.exception("call.failed_on_caller_frame")
            self.request_hang_up("internal_error")
        if sampled:
            self._latency_to_agent.observe(time.perf_counter() - t0)
        return True

    async def _cleanup(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        agent, self._agent = self._agent, None
        if agent is not None:
            await agent.close()
        current = asyncio.current_task()
        pending = [t for t in self._tasks if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def request_hang_up(self, reason: str) -> None:
        """End the call from outside (operator, supervisor, shutdown)."""
        self.bridge.hang_up(reason, self._loop.time())
        self._spawn(self._flush(), "hang-up")

    def end_after_speech(self) -> None:
        """The agent ended the call through a server tool (a webhook, not this socket)."""
        self.bridge.request_end(self._loop.time())
        self._spawn(self._flush(), "end-requested")

    def transfer(self, number: str, brief: str) -> None:
        """Hand the caller to a person once the agent's last words have played."""
        self.bridge.request_transfer(number, brief, self._loop.time())
        self._spawn(self._flush(), "transfer-requested")

    def supervisor_transfer(self, number: str, brief: str) -> None:
        """A supervisor takes the call over: a warm transfer to their number."""
        self.bridge.request_transfer(
            number,
            brief,
            self._loop.time(),
            tell_agent="A supervisor is taking this call over now; the caller is being "
            "transferred to them. Do not start a new topic.",
        )
        self._spawn(self._flush(), "supervisor-transfer")

    def answered_by(self, verdict: str) -> None:
        self.bridge.answered_by(verdict, self._loop.time())
        self._spawn(self._flush(), "amd")

    # -------------------------------------------------------------- agent side
    async def _connect_agent(
        self, task: asyncio.Task[AgentSession] | None, resume_context: str | None
    ) -> None:
        services = self.services
        try:
            if task is None:
                initiation = initiation_for(self.context, resume=resume_context is not None)
                session = await services.connector.open(initiation)
            else:
                session = await task
        except (AgentConnectError, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError) and self.bridge.ended:
                raise
            self._log.warning("agent.connect_failed", error=str(exc), resume=bool(resume_context))
            now = self._loop.time()
            if resume_context is None:
                self.bridge.agent_closed(None, now)
            else:
                self.bridge.agent_reconnect_failed(now)
            await self._flush()
            return
        services.metrics.agent_connect.observe(session.connect_s)
        if self.bridge.ended:
            await session.close()
            return
        self._agent = session
        if resume_context is not None:
            await session.send(ae.contextual_update_message(resume_context))
        await session.attach(self)

    async def agent_event(self, event: ae.AgentEvent) -> None:
        """Called by the agent session for each event, in order (buffered ones, and
        those its reading task takes)."""
        sampled = type(event) is ae.Audio and self._sample_agent()
        t0 = time.perf_counter() if sampled else 0.0
        self.bridge.agent_event(event, self._loop.time())
        await self._flush()
        if sampled:
            self._latency_to_caller.observe(time.perf_counter() - t0)

    def agent_event_now(self, event: ae.AgentEvent) -> None:
        """:meth:`agent_event` from the socket's ``data_received``: fed and drained at
        once (:meth:`_drain_now`), so nothing here may raise into the socket."""
        sampled = type(event) is ae.Audio and self._sample_agent()
        t0 = time.perf_counter() if sampled else 0.0
        try:
            self.bridge.agent_event(event, self._loop.time())
            self._drain_now()
        except Exception:
            self._log.exception("call.failed_on_agent_event")
            self.request_hang_up("internal_error")
        if sampled:
            self._latency_to_caller.observe(time.perf_counter() - t0)

    def _sample_agent(self) -> bool:
        self._agent_sample += 1
        return self._agent_sample % AGENT_LATENCY_SAMPLE == 0

    async def agent_closed(self, code: int | None) -> None:
        self._agent = None
        self.bridge.agent_closed(code, self._loop.time())
        await self._flush()

    # -------------------------------------------------------------- the drain
    async def _flush(self) -> None:
        bridge = self.bridge
        twilio = bridge.take_twilio()
        if twilio:
            await self._to_twilio.write(twilio)
        agent = bridge.take_agent()
        if agent:
            await self._to_agent.write(agent)
        effects = bridge.take_effects()
        if effects:
            for effect in effects:
                await self._apply(effect)
        self._arm_timer()

    def _drain_now(self) -> None:
        """:meth:`_flush` without awaiting: what cannot be written now goes to a sender
        task, queued behind any sender already running; effects go to a flush task."""
        bridge = self.bridge
        twilio = bridge.take_twilio()
        if twilio and not self._to_twilio.now(twilio):
            self._to_twilio.later(twilio)
        agent = bridge.take_agent()
        if agent and not self._to_agent.now(agent):
            self._to_agent.later(agent)
        if bridge.has_output:
            self._spawn(self._flush(), "flush")
        else:
            self._arm_timer()

    # ------------------------------------------------- how each peer is written
    def _twilio_writable(self) -> bool:
        return self._twilio_open

    async def _send_twilio(self, text: str) -> None:
        try:
            await self._send({"type": "websocket.send", "text": text})
        except (OSError, RuntimeError):
            self._twilio_open = False  # the socket is gone; the reader sees the close

    def _agent_attached(self) -> bool:
        return self._agent is not None

    def _write_agent_now(self, messages: list[str]) -> bool:
        """Write frames to the agent without awaiting, as far as its socket allows.

        The usual case: one caller frame, an open socket with room. Saves two
        coroutines per frame; what is left in ``messages`` goes through the outbox's
        sender.
        """
        agent = self._agent
        if agent is None:
            return False
        for i, text in enumerate(messages):
            if not agent.send_now(text):
                del messages[:i]
                return False
        return True

    async def _send_agent(self, text: str) -> None:
        agent = self._agent
        if agent is not None:
            await agent.send(text)

    async def _apply(self, effect: Effect) -> None:
        if isinstance(effect, Publish):
            self.services.publish(
                LiveEvent(self.record.org_id, self.record.call_sid, effect.type, effect.data)
            )
            if effect.type == "agent.ready":
                # Server-tool webhooks and the post-call webhook may name the call by
                # its conversation; the session learns it as soon as the agent does.
                self.record.conversation_id = str(effect.data.get("conversation_id", ""))
                self.services.spawn(self._remember_conversation(), "conversation-id")
        elif isinstance(effect, RunTool):
            self._spawn(self._run_tool(effect), f"tool-{effect.name}")
        elif isinstance(effect, HangUp):
            await self._close_twilio()
        elif isinstance(effect, CloseAgent):
            agent, self._agent = self._agent, None
            if agent is not None:
                # Not a call task: the call's clean-up cancels those, and a close
                # cancelled before its first step would leave the socket open.
                self.services.spawn(agent.close(), "agent-close")
        elif isinstance(effect, SayAndHangUp):
            self._spawn(self._say_and_hang_up(effect), "say-and-hang-up")
        elif isinstance(effect, WarmTransfer):
            self._spawn(self._warm_transfer(effect), "warm-transfer")
        elif isinstance(effect, ReconnectAgent):
            self.services.metrics.agent_reconnects.inc()
            self._spawn(self._connect_agent(None, effect.context), "agent-reconnect")
        elif isinstance(effect, Finished):
            self._finish(effect)

    async def _close_twilio(self) -> None:
        if self._twilio_open:
            self._twilio_open = False
            with contextlib.suppress(OSError, RuntimeError):
                await self._send({"type": "websocket.close", "code": 1000})

    async def _say_and_hang_up(self, effect: SayAndHangUp) -> None:
        try:
            await self.services.voice.say_and_hang_up(
                self.record.call_sid, effect.text, self.context.language
            )
        except Exception as exc:
            # The bridge hangs up by itself when Twilio's stop does not follow.
            self._log.warning("twilio.update_failed", error=str(exc)[:200])

    async def _remember_conversation(self) -> None:
        try:
            await update_session(
                self.services.database,
                self.record.call_sid,
                conversation_id=self.record.conversation_id or None,
                status="in-progress",
            )
        except Exception as exc:
            self._log.warning("call.session_update_failed", error=str(exc)[:200])

    async def _warm_transfer(self, effect: WarmTransfer) -> None:
        record, services = self.record, self.services
        record.transfer_brief = effect.brief
        # Twilio asks for the whisper on whichever process its request lands on; without
        # Redis right now, that process plays its generic line instead of the brief.
        try:
            await services.calls.save(record, "transfer_brief")
        except RedisUnavailable:
            self._log.warning("call.transfer_brief_not_shared")
        public = services.signatures.public_url
        document = twiml.warm_transfer(
            effect.number,
            whisper_url=public("/twilio/whisper", f"call={record.call_ref}"),
            action_url=public("/twilio/transfer", f"call={record.call_ref}"),
            caller_id=record.from_ if record.direction != "inbound" else record.to,
        )
        try:
            await services.voice.update_twiml(record.call_sid, document)
        except Exception as exc:
            self._log.warning("twilio.transfer_failed", error=str(exc)[:200])

    async def _run_tool(self, effect: RunTool) -> None:
        self.record.tools_used.append(effect.name)
        started = time.perf_counter()
        result = await self.services.tool_runtime.run(
            effect.name,
            effect.parameters,
            org_id=self.record.org_id,
            call_sid=self.record.call_sid,
            tool_call_id=effect.tool_call_id,
        )
        self.services.metrics.tool_latency.labels(effect.name).observe(
            time.perf_counter() - started
        )
        transfer = result.transfer
        self.bridge.tool_finished(
            effect.tool_call_id,
            result.text,
            is_error=result.is_error,
            end_call=result.end_call,
            now=self._loop.time(),
            transfer=(transfer.number, transfer.brief) if transfer is not None else None,
        )
        await self._flush()

    def _finish(self, effect: Finished) -> None:
        record, bridge, services = self.record, self.bridge, self.services
        record.ended_at = time.time()
        record.end_reason = effect.reason
        record.outcome = effect.outcome
        record.conversation_id = bridge.conversation_id
        record.transcript = list(bridge.transcript)
        services.metrics.calls.labels(effect.outcome).inc()
        services.ended_totals.caller_to_agent += bridge.frames_to_agent
        services.ended_totals.agent_to_caller += bridge.playout.frames_sent
        if bridge.recording is not None:
            path = services.settings.recordings_dir / f"{record.call_sid}.wav"
            record.recording_path = str(path)
            services.spawn(self._write_recording(path), "recording")
        services.spawn(record_call_end(services, record), "call-outcome")
        services.call_ended(record)
        self._log.info(
            "call.ended",
            reason=effect.reason,
            outcome=effect.outcome,
            frames_in=bridge.frames_in,
            frames_out=bridge.playout.frames_sent,
            stale_dropped=bridge.stale_audio_dropped,
            protocol_errors=bridge.protocol_errors,
        )

    async def _write_recording(self, path: Path) -> None:
        recording = self.bridge.recording
        if recording is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(recording.write_wav, path)
        except OSError as exc:
            self._log.error("recording.write_failed", error=str(exc))

    # -------------------------------------------------------------- helpers
    def _protocol_error(self, peer: str) -> None:
        self.bridge.protocol_errors += 1
        self.services.metrics.protocol_errors.labels(peer).inc()

    def _spawn(self, coro: object, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _arm_timer(self) -> None:
        deadline = self.bridge.next_deadline()
        timer = self._timer
        if deadline is None:
            if timer is not None:
                timer.cancel()
                self._timer = None
            return
        if timer is not None and self._timer_at <= deadline:
            return  # an earlier wake-up is already set; it re-arms when it fires
        if timer is not None:
            timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        """A paced release is due: drained here, as a caller frame is (no task per tick).

        What cannot be written at once still goes through a sender task, and effects
        through a flush task (:meth:`_drain_now`), so order and back-pressure hold.
        """
        self._timer = None
        try:
            self.bridge.tick(self._loop.time())
            self._drain_now()
        except Exception:
            # A timer callback that raises is only logged by the loop, and the call
            # would never be paced again; the task path would have ended the call.
            self._log.exception("call.failed_on_tick")
            self.request_hang_up("internal_error")
