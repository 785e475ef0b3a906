"""The per-call rules of the Twilio <-> agent bridge, with no I/O (sans-I/O).

Theory of operation. :class:`CallBridge` is fed parsed events from both peers, each
with ``now`` (monotonic seconds): :meth:`start` and :meth:`twilio_event` from the
Media Streams socket, :meth:`agent_event` / :meth:`agent_closed` from the agent
socket, :meth:`tool_finished` from the tool runner, :meth:`answered_by` from the
answering-machine webhook, :meth:`tick` when :meth:`next_deadline` passes. After
every input the I/O layer drains three outboxes, in this order: :meth:`take_twilio`
and :meth:`take_agent` (text frames to send) and :meth:`take_effects` (see
``gateway/effects.py``). It decides nothing itself.

Rules that live here and nowhere else:

* Caller audio goes to the agent once the agent has announced its formats; until
  then it is queued (bounded, oldest dropped first), never silently lost on a
  normal start.
* Agent audio is cut into 20 ms frames and paced by :class:`~gateway.playout.Playout`.
  Audio that arrives before Twilio's ``start`` is held and released on ``start``.
* Barge-in is a rule about kinds of message: on ``interruption`` every queued agent
  frame of that response and every later chunk with ``event_id <=`` the
  interruption's is dropped, and Twilio gets a ``clear``. Marks, ``clear``, pongs
  and tool results are never dropped.
* ``ping`` is answered with ``pong`` before anything else is done (while the call is
  up; once it has ended, every input is ignored).
* A Twilio ``media``, ``mark``, ``dtmf`` or ``stop`` naming another ``streamSid`` is
  a protocol error and changes nothing: it cannot end or steer this call.
* The call ends exactly once (one :class:`~gateway.effects.Finished`). When the
  agent ends it (``end_call``), the hang-up waits until its last words have played.
  When the caller ends it, the agent is closed at once. When the agent socket drops,
  one reconnect is tried with the conversation so far; then an apology and hang-up.
"""

from __future__ import annotations

from collections import deque

from gateway import agent_events as ae
from gateway import twilio_events as te
from gateway.audio_path import AgentToCaller, CallerToAgent, UnsupportedFormat
from gateway.call_model import (
    MACHINE_VERDICTS,
    NORMAL_CLOSE,
    BridgeTimings,
    CallInfo,
    Phase,
)
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
from gateway.playout import Playout
from gateway.transcript import Transcript
from media.recording import CallRecording

__all__ = ["MACHINE_VERDICTS", "BridgeTimings", "CallBridge", "CallInfo", "Phase"]


class CallBridge:
    """One call's bridge state machine. See the module docstring for the contract."""

    def __init__(
        self,
        info: CallInfo,
        *,
        voicemail_message: str,
        apology_message: str,
        recording: CallRecording | None = None,
        playout: Playout | None = None,
        timings: BridgeTimings | None = None,
    ) -> None:
        self.info = info
        self.phase = Phase.AWAITING_START
        self.stream_sid = ""
        self.conversation_id = ""
        self.recording = recording
        self.playout = playout or Playout()
        self.timings = timings or BridgeTimings()
        self.voicemail_message = voicemail_message
        self.apology_message = apology_message
        self.transcript = Transcript()
        self.end_reason = ""
        self.outcome = ""
        self.frames_in = 0
        self.frames_to_agent = 0
        self.stale_audio_dropped = 0
        self.caller_frames_dropped = 0
        self.protocol_errors = 0
        self.agent_reconnects = 0
        self._twilio_out: list[str] = []
        self._agent_out: list[str] = []
        self._effects: list[Effect] = []
        self._to_agent: CallerToAgent | None = None
        self._to_caller: AgentToCaller | None = None
        self._pending_caller: deque[str] = deque(maxlen=self.timings.max_pending_caller_frames)
        self._interrupted_upto = -1
        self._tool_calls_seen: set[str] = set()
        self._agent_gone = False
        self._last_agent_audio = 0.0
        self._ending_since = 0.0
        self._ending_checked_at = 0.0
        self._tail_response: int | None = None
        self._after_ending: WarmTransfer | None = None
        self._handoff_deadline = 0.0
        self._caller_ms = 0
        self._caller_ms_at = 0.0
        self._response_text: dict[int, str] = {}
        self.speaker = ""  # who is talking now, as supervisors see it: agent, caller or ""

    # ----------------------------------------------------------------- outboxes
    # The outboxes are drained after every input, usually empty: a new list is only
    # made when one is handed out (an empty one is returned as is and must not be kept).
    def take_twilio(self) -> list[str]:
        """Frames for Twilio, oldest first; call after every input."""
        out = self._twilio_out
        if out:
            self._twilio_out = []
        return out

    def take_agent(self) -> list[str]:
        """Frames for the agent, oldest first; call after every input."""
        out = self._agent_out
        if out:
            self._agent_out = []
        return out

    def take_effects(self) -> list[Effect]:
        out = self._effects
        if out:
            self._effects = []
        return out

    @property
    def has_output(self) -> bool:
        """Whether a drain would find anything (lets the pump skip an empty drain)."""
        return bool(self._twilio_out or self._agent_out or self._effects)

    @property
    def agent_ready(self) -> bool:
        return self._to_agent is not None

    @property
    def ended(self) -> bool:
        return self.phase is Phase.ENDED

    # ------------------------------------------------------------ Twilio input
    def start(self, event: te.Start, now: float) -> None:
        """Twilio's ``start``, already checked by the I/O layer (token, call SID)."""
        if self.phase is not Phase.AWAITING_START:
            self.protocol_errors += 1
            return
        self.phase = Phase.LIVE
        self.stream_sid = event.stream_sid
        self._caller_ms_at = now
        self._publish("stream.started", stream_sid=event.stream_sid)
        self._release(now)

    def twilio_event(self, event: te.TwilioEvent, now: float) -> None:
        """Feed one parsed Media Streams event (``start`` goes to :meth:`start`)."""
        if type(event) is te.Media:
            self._caller_audio(event, now)
            return
        phase = self.phase
        if phase is Phase.ENDED:
            return
        if isinstance(event, te.Start):
            self.start(event, now)
        elif isinstance(event, te.Connected):
            pass  # carries nothing the bridge needs
        elif event.stream_sid != self.stream_sid:
            self.protocol_errors += 1  # another stream's mark, key or stop is not ours
        elif isinstance(event, te.Mark):
            self.playout.on_mark(event.name)
            if self.speaker == "agent" and self.playout.drained(now):
                self._set_speaker("")
            self._check_ending(now)
        elif isinstance(event, te.Dtmf):
            self._dtmf(event.digit)
        elif isinstance(event, te.Stop):
            reason = self.end_reason or "caller_hung_up"
            self._finish(reason, self.outcome or reason, now)

    def _caller_audio(self, event: te.Media, now: float) -> None:
        if not te.is_base64_text(event.payload):  # built by hand, not by the parser
            if self.phase is not Phase.AWAITING_START and self.phase is not Phase.ENDED:
                self.protocol_errors += event.stream_sid == self.stream_sid
            return
        self.caller_media(event.stream_sid, event.payload, event.timestamp_ms, now)

    def caller_media(self, stream_sid: str, payload: str, timestamp_ms: int, now: float) -> None:
        """One caller frame: what :meth:`twilio_event` does with a :class:`~te.Media`,
        for the I/O layer that took the fields straight from the frame (no event built).

        ``payload`` must be base64 text as the parser checks it (it is spliced into the
        agent's JSON as is); the recording decodes it later, off the media path.
        """
        if self.phase is Phase.AWAITING_START or self.phase is Phase.ENDED:
            return
        if stream_sid != self.stream_sid:
            self.protocol_errors += 1
            return
        self.frames_in += 1
        self._caller_ms = timestamp_ms
        self._caller_ms_at = now
        if self.recording is not None:
            self.recording.add_caller_b64(payload, timestamp_ms)
        to_agent = self._to_agent
        if to_agent is not None:
            if to_agent.passthrough:
                self._agent_out.append(ae.user_audio_message(payload))
                self.frames_to_agent += 1
            else:
                try:
                    converted = to_agent.convert(payload)
                except ValueError:  # binascii.Error: not base64 (transcoding decodes it)
                    self.protocol_errors += 1
                    return
                if converted:  # a resampler still filling up yields nothing to send
                    self._agent_out.append(ae.user_audio_message(converted))
                    self.frames_to_agent += 1
        else:
            if len(self._pending_caller) == self._pending_caller.maxlen:
                self.caller_frames_dropped += 1
            self._pending_caller.append(payload)
        if self.playout.queued_frames:
            self._release(now)

    def _dtmf(self, digit: str) -> None:
        if self._to_agent is not None:
            self._agent_out.append(
                ae.contextual_update_message(
                    f"The caller pressed the key {digit} on their phone keypad."
                )
            )
        self._publish("dtmf", digit=digit)

    def twilio_closed(self, now: float) -> None:
        """The media socket closed (with or without ``stop``)."""
        if self.phase is not Phase.ENDED:
            reason = self.end_reason or "caller_hung_up"
            self._finish(reason, self.outcome or reason, now)

    # ------------------------------------------------------------- agent input
    def agent_event(self, event: ae.AgentEvent, now: float) -> None:
        """Feed one parsed agent event."""
        if type(event) is ae.Audio:
            self._agent_audio(event, now)
            return
        if self.phase is Phase.ENDED:
            return
        if isinstance(event, ae.Ping):
            self._agent_out.append(ae.pong_message(event.event_id))
        elif isinstance(event, ae.InitiationMetadata):
            self._agent_metadata(event, now)
        elif isinstance(event, ae.Interruption):
            self._interrupt(event.event_id, now)
        elif isinstance(event, ae.AgentResponse):
            self._response_text[event.event_id] = event.text
            self.transcript.append(("agent", event.text))
            self._publish("agent", text=event.text, event_id=event.event_id)
        elif isinstance(event, ae.AgentResponseCorrection):
            self._correct(event)
        elif isinstance(event, ae.UserTranscript):
            if event.tentative:
                self._set_speaker("caller")
                self._publish("caller_tentative", text=event.text)
            else:
                self.transcript.append(("caller", event.text))
                self._publish("caller", text=event.text, event_id=event.event_id)
                if self.speaker == "caller":
                    self._set_speaker("")
        elif isinstance(event, ae.ClientToolCall):
            self._tool_call(event)
        elif isinstance(event, ae.AgentToolResponse):
            self._publish(
                "agent_tool", name=event.tool_name, type=event.tool_type, is_error=event.is_error
            )
            if event.tool_name == "end_call" and not event.is_error:
                self._begin_ending("agent_ended", now)
        elif isinstance(event, ae.ErrorEvent):
            self._publish("agent_error", code=event.code, message=event.message)

    def _agent_audio(self, event: ae.Audio, now: float) -> None:
        if event.event_id <= self._interrupted_upto:
            self.stale_audio_dropped += 1
            return
        to_caller = self._to_caller
        if to_caller is None or self.phase is Phase.ENDED or self.phase is Phase.HANDED_OFF:
            self.protocol_errors += to_caller is None
            return
        if self._tail_response is not None and self._tail_response != event.event_id:
            self._flush_tail()
        try:
            frames, ulaw = to_caller.frames(event.audio_b64)
        except ValueError:
            self.protocol_errors += 1
            return
        if self.recording is not None:
            self.recording.add_agent(ulaw, self._caller_clock(now))
        self.playout.enqueue(frames, event.event_id)
        self._last_agent_audio = now
        if self.speaker != "agent":
            self._set_speaker("agent")
        if to_caller.tail_pending:
            self._tail_response = event.event_id
        if self.phase is not Phase.AWAITING_START:
            self._release(now)

    def _agent_metadata(self, event: ae.InitiationMetadata, now: float) -> None:
        try:
            to_agent = CallerToAgent(event.input_format)
            self._to_caller = AgentToCaller(event.output_format)
        except UnsupportedFormat as exc:
            self._publish("agent_error", code="audio_format", message=str(exc))
            self._agent_failed(now)
            return
        self._to_agent = to_agent
        if self.conversation_id:
            # A reconnected conversation numbers its events afresh: reset the fence,
            # and let its first interruption drop what the old one left queued.
            self._interrupted_upto = -1
            self.playout.renumber(0)
        self.conversation_id = event.conversation_id
        self._publish("agent.ready", conversation_id=event.conversation_id)
        while self._pending_caller:
            payload = self._pending_caller.popleft()
            try:
                converted = to_agent.convert(payload)
            except ValueError:
                self.protocol_errors += 1
                continue
            if converted:
                self._agent_out.append(ae.user_audio_message(converted))
                self.frames_to_agent += 1

    def _correct(self, event: ae.AgentResponseCorrection) -> None:
        self.transcript.correct(event.original, event.corrected)
        self._publish(
            "agent_correction",
            original=event.original,
            corrected=event.corrected,
            event_id=event.event_id,
        )

    def _tool_call(self, event: ae.ClientToolCall) -> None:
        if event.tool_call_id in self._tool_calls_seen:
            return  # a repeated call is answered once, by the first run
        self._tool_calls_seen.add(event.tool_call_id)
        self._effects.append(RunTool(event.tool_call_id, event.tool_name, event.parameters))
        self._publish(
            "tool_call",
            tool_call_id=event.tool_call_id,
            name=event.tool_name,
            parameters=event.parameters,
        )

    def _interrupt(self, event_id: int, now: float) -> None:
        self._interrupted_upto = max(self._interrupted_upto, event_id)
        if self._to_caller is not None:
            self._to_caller.clear()
        self._tail_response = None
        heard_s = self.playout.heard_of_current_response()
        self.playout.interrupt(event_id, now)
        if self.stream_sid:
            # Always clear: Twilio may hold audio our estimate thinks has played.
            self._twilio_out.append(te.clear_message(self.stream_sid))
        if self.recording is not None:
            self.recording.cut_agent(self._caller_clock(now))
        self._publish("interruption", event_id=event_id, heard_s=round(heard_s, 3))
        self._set_speaker("caller")

    def agent_closed(self, code: int | None, now: float) -> None:
        """The agent socket is gone; ``code`` is its close code (None if no frame)."""
        self._to_agent = None
        if self.phase is Phase.ENDED or self.phase is Phase.HANDED_OFF:
            return
        if self.phase is Phase.ENDING or code == NORMAL_CLOSE:
            self._agent_gone = True
            self._begin_ending("agent_ended", now)
            return
        if self.agent_reconnects == 0:
            self.agent_reconnects += 1
            self._publish("agent_reconnecting", close_code=code)
            self._effects.append(ReconnectAgent(self._reconnect_context()))
            return
        self._agent_failed(now)

    def agent_reconnect_failed(self, now: float) -> None:
        if self.phase not in (Phase.ENDED, Phase.HANDED_OFF):
            self._agent_failed(now)

    def _reconnect_context(self) -> str:
        return (
            "The phone call continues after a brief technical interruption on our side. "
            "Do not greet the caller again; continue from where the conversation left off.\n"
            "Conversation so far:\n" + self.transcript.as_context()
        )

    def _agent_failed(self, now: float) -> None:
        self._hand_off(SayAndHangUp(self.apology_message, "agent_failed"), now)

    # ------------------------------------------------------------ tools, AMD, end
    def tool_finished(
        self,
        tool_call_id: str,
        result: str,
        *,
        is_error: bool,
        end_call: bool,
        now: float,
        transfer: tuple[str, str] | None = None,
    ) -> None:
        """A tool run has finished; its result goes to the agent even mid-barge-in.

        ``transfer`` is ``(number, brief)`` when the tool hands the caller to a person.
        """
        if self.phase is Phase.ENDED:
            return
        self._agent_out.append(ae.tool_result_message(tool_call_id, result, is_error=is_error))
        self._publish("tool_result", tool_call_id=tool_call_id, result=result, is_error=is_error)
        if is_error:
            return
        if transfer is not None:
            self.request_transfer(transfer[0], transfer[1], now)
        elif end_call:
            self._begin_ending("agent_ended", now)

    def request_end(self, now: float) -> None:
        """The agent ended the call through a server tool: hang up after its last words."""
        if self.phase in (Phase.LIVE, Phase.AWAITING_START, Phase.ENDING):
            self._begin_ending("agent_ended", now)

    def request_transfer(
        self, number: str, brief: str, now: float, *, tell_agent: str = ""
    ) -> None:
        """Hand the caller to a person once the agent's last words have played.

        ``tell_agent`` (a supervisor's request) goes to the agent as context first, so
        a line it is already speaking ends knowing why the call is handed over.
        """
        if self.phase not in (Phase.LIVE, Phase.AWAITING_START):
            return
        if tell_agent and self._to_agent is not None:
            self._agent_out.append(ae.contextual_update_message(tell_agent))
        self._after_ending = WarmTransfer(number, brief)
        self._publish("transfer", number=number)
        self._begin_ending("transferred", now)

    def answered_by(self, verdict: str, now: float) -> None:
        """Twilio's asynchronous answering-machine verdict for this call."""
        if self.phase is Phase.ENDED:
            return
        self._publish("amd", answered_by=verdict)
        if self.phase is Phase.HANDED_OFF:
            return
        if verdict in MACHINE_VERDICTS:
            self._silence_agent(now)
            self._hand_off(SayAndHangUp(self.voicemail_message, "voicemail"), now)
        elif verdict == "fax":
            self._hang_up("fax", now)

    def hang_up(self, reason: str, now: float) -> None:
        """End the call now (an operator or supervisor asked)."""
        if self.phase is not Phase.ENDED:
            self._hang_up(reason, now)

    def _silence_agent(self, now: float) -> None:
        self._interrupted_upto = 1 << 62
        self.playout.interrupt(self._interrupted_upto, now)
        if self.stream_sid:
            self._twilio_out.append(te.clear_message(self.stream_sid))

    def _hand_off(self, effect: SayAndHangUp | WarmTransfer, now: float) -> None:
        self.phase = Phase.HANDED_OFF
        self.end_reason = self.outcome = effect.reason
        self._handoff_deadline = now + self.timings.handoff_wait_s
        self._effects.append(CloseAgent(effect.reason))
        self._effects.append(effect)

    def _begin_ending(self, reason: str, now: float) -> None:
        if self.phase in (Phase.LIVE, Phase.AWAITING_START):
            self.phase = Phase.ENDING
            self.end_reason = reason
            self.outcome = "transferred" if self._after_ending is not None else "completed"
            self._ending_since = now
        self._check_ending(now)

    def _check_ending(self, now: float) -> None:
        if self.phase is not Phase.ENDING:
            return
        self._ending_checked_at = now
        quiet = now >= self._quiet_at()
        if quiet and self._tail_response is not None:
            # Only once the agent is quiet: a flush mid-speech would pad a frame with
            # silence (and restart the resampler) in the middle of the last words.
            self._flush_tail()
            self._release(now)
        settled = quiet and self.playout.drained(now)
        if settled or now >= self._ending_since + self.timings.end_max_wait_s:
            if self._after_ending is not None:
                self._hand_off(self._after_ending, now)
            else:
                self._hang_up(self.end_reason, now)

    def _flush_tail(self) -> None:
        """Play out what the converter holds of a response that has ended (a partial
        frame, the resampler's delay line): on a new response, a pause or the end."""
        response, self._tail_response = self._tail_response, None
        if response is None or self._to_caller is None:
            return
        tail = self._to_caller.flush()
        if tail:
            self.playout.enqueue(tail, response)

    def _quiet_at(self) -> float:
        """When the ending is old enough and the agent has been quiet for the grace."""
        last = self._ending_since
        if not self._agent_gone:
            last = max(last, self._last_agent_audio)
        return last + self.timings.end_grace_s

    def _hang_up(self, reason: str, now: float) -> None:
        self._effects.append(HangUp(reason))
        self._finish(reason, self.outcome or reason, now)

    def _finish(self, reason: str, outcome: str, now: float) -> None:
        if self.phase is Phase.ENDED:
            return
        self.phase = Phase.ENDED
        self.end_reason = reason
        self.outcome = outcome
        self._effects.append(CloseAgent(reason))
        self._publish("call.ended", reason=reason, outcome=outcome)
        self._effects.append(Finished(reason, outcome))

    # ------------------------------------------------------------------ timers
    def next_deadline(self) -> float | None:
        """The next time :meth:`tick` must be called, or None."""
        phase = self.phase
        if phase is Phase.ENDED:
            return None
        if phase is Phase.HANDED_OFF:
            return self._handoff_deadline
        if phase is Phase.LIVE and self._tail_response is None:
            # The usual case, after every frame: only the playout's next release.
            return self.playout.next_deadline() if self.stream_sid else None
        candidates: list[float] = []
        if self.stream_sid:  # before Twilio's start, nothing can be released
            release = self.playout.next_deadline()
            if release is not None:
                candidates.append(release)
        if self._tail_response is not None and phase is not Phase.ENDING:
            candidates.append(self._last_agent_audio + self.timings.tail_quiet_s)
        if phase is Phase.ENDING:
            candidates.append(self._ending_since + self.timings.end_max_wait_s)
            # A time the last check has already seen pass cannot settle the ending any
            # more (marks or new audio will); handing it back would make the pump spin.
            for at in (self._quiet_at(), self.playout.next_drain_check()):
                if at is not None and at > self._ending_checked_at:
                    candidates.append(at)
        return min(candidates) if candidates else None

    def tick(self, now: float) -> None:
        """Time has passed: release paced audio, finish an ending, expire a hand-off."""
        if self.phase is Phase.HANDED_OFF:
            if now >= self._handoff_deadline:
                self._hang_up(self.end_reason, now)
            return
        if self.phase is Phase.LIVE or self.phase is Phase.ENDING:
            if (
                self._tail_response is not None
                and now >= self._last_agent_audio + self.timings.tail_quiet_s
            ):
                self._flush_tail()
            self._release(now)
            self._check_ending(now)

    # ----------------------------------------------------------------- helpers
    def _release(self, now: float) -> None:
        if self.stream_sid:
            self.playout.release(now, self.stream_sid, self._twilio_out)

    def _caller_clock(self, now: float) -> int:
        """``now`` on the caller's timeline (Twilio's media timestamps, in ms)."""
        if not self._caller_ms_at:
            return 0
        return self._caller_ms + int((now - self._caller_ms_at) * 1000)

    def _set_speaker(self, who: str) -> None:
        """Publish who is talking, on changes only (never once per frame).

        The agent talks from its first audio until Twilio has played all it was sent
        (marks); the caller from a tentative transcript or a barge-in until their
        final transcript.
        """
        if who != self.speaker:
            self.speaker = who
            self._publish("speaker", speaker=who)

    def _publish(self, kind: str, **data: object) -> None:
        self._effects.append(Publish(kind, dict(data)))
