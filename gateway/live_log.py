"""What each call has published so far, so a supervisor who opens it late sees it all.

The hub only fans out what happens from now on. A supervisor who opens a call view
in the middle of a call needs its transcript so far, and a list of calls needs each
call's current state (who is speaking, its status) without waiting for the next
event. Every event published goes through :meth:`CallEventLog.add` (see
``Services.publish``), which keeps the call's events, bounded, and a small derived
state per call. Both are read when a supervisor subscribes: subscribing and reading
happen in one synchronous step, so no event is missed or shown twice.

This log is in-process: it holds the events published by this process.

Live events (``type``: ``data``), as published by the call core and the gateway:

=====================  ==============================================================
``call.created``       the call card: ``call_ref``, ``account_id``, ``account_reference``,
                       ``debtor_name``, ``number``, ``direction``, ``status``,
                       ``created_at``
``call.started``       the call card again, when the media stream starts
``call.status``        Twilio's progress: ``status`` (and ``answered_by`` for ``amd``)
``stream.started``     ``stream_sid``
``agent.ready``        ``conversation_id``
``speaker``            ``speaker``: ``agent``, ``caller`` or ``""`` (nobody)
``agent``              an agent line: ``text``, ``event_id``
``agent_correction``   what was really heard of an interrupted line: ``original``,
                       ``corrected``, ``event_id``
``caller_tentative``   the caller's words while they speak: ``text``
``caller``             a caller line: ``text``, ``event_id``
``interruption``       the caller barged in: ``event_id``, ``heard_s``
``dtmf``               ``digit``
``tool_call``          ``tool_call_id``, ``name``, ``parameters``
``tool_result``        ``tool_call_id``, ``result``, ``is_error``
``agent_tool``         a tool the agent service ran itself: ``name``, ``type``,
                       ``is_error``
``sentiment``          ``sentiment`` (and optionally ``score``), from whatever knows it
``agent_error``, ``agent_reconnecting``, ``amd``
``call.ended``         ``reason``, ``outcome``
=====================  ==============================================================
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from gateway.hub import LiveEvent


@dataclass(slots=True)
class _CallLog:
    org_id: str
    events: deque[LiveEvent]
    state: dict[str, Any] = field(default_factory=dict)
    ended: bool = False


class CallEventLog:
    """Events and current state of the calls this process has published for.

    Args:
        per_call: events kept per call (the oldest go first; a call publishes no
            event per audio frame, so a long call stays far below this).
        keep_ended: ended calls kept, so that a view opened just after the end still
            shows the whole call.
        max_calls: calls kept at all; the oldest are forgotten first.
    """

    def __init__(self, per_call: int = 2000, keep_ended: int = 200, max_calls: int = 5000) -> None:
        self._per_call = per_call
        self._keep_ended = keep_ended
        self._max_calls = max_calls
        self._calls: OrderedDict[str, _CallLog] = OrderedDict()
        self._ended: deque[str] = deque()

    def add(self, event: LiveEvent) -> None:
        log = self._calls.get(event.call_sid)
        if log is None:
            if not event.call_sid:
                return
            log = _CallLog(event.org_id, deque(maxlen=self._per_call))
            self._calls[event.call_sid] = log
            if len(self._calls) > self._max_calls:
                self._calls.popitem(last=False)
        elif log.org_id != event.org_id:
            return  # a call sid belongs to one organization, whatever claims otherwise
        log.events.append(event)
        self._update(log, event)
        if event.type == "call.ended" and not log.ended:
            log.ended = True
            self._ended.append(event.call_sid)
            while len(self._ended) > self._keep_ended:
                self._calls.pop(self._ended.popleft(), None)

    def history(self, org_id: str, call_sid: str) -> list[LiveEvent]:
        """The call's events so far, oldest first; none for another organization's."""
        log = self._calls.get(call_sid)
        if log is None or log.org_id != org_id:
            return []
        return list(log.events)

    def state(self, org_id: str, call_sid: str) -> dict[str, Any]:
        """The call's current state as its events tell it (card, status, speaker...)."""
        log = self._calls.get(call_sid)
        if log is None or log.org_id != org_id:
            return {}
        return dict(log.state)

    def __len__(self) -> int:
        return len(self._calls)

    @staticmethod
    def _update(log: _CallLog, event: LiveEvent) -> None:
        state, data, kind = log.state, event.data, event.type
        if kind in ("call.created", "call.started"):
            state.update(data)
            if kind == "call.started":
                state["phase"] = "live"
                state["started_at"] = event.ts
        elif kind == "stream.started":
            state["phase"] = "live"
            state.setdefault("started_at", event.ts)
        elif kind == "call.status" and data.get("status") != "amd":
            state["status"] = data.get("status", "")
        elif kind == "speaker":
            state["speaker"] = data.get("speaker", "")
        elif kind == "sentiment":
            state["sentiment"] = data.get("sentiment")
        elif kind == "call.ended":
            state.update(
                phase="ended",
                speaker="",
                end_reason=data.get("reason", ""),
                outcome=data.get("outcome", ""),
                ended_at=event.ts,
            )
