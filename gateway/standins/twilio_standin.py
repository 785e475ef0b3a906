"""The Twilio stand-in: REST API, phone network and Media Streams client in one object.

Why one facade: a test or the demo needs "Twilio" as a whole: the gateway places a
call through the REST API and the stand-in rings the callee, asks the gateway for
TwiML, opens the media stream and lets a scripted caller talk, posting signed
callbacks along the way. Or the stand-in makes an inbound call to the gateway's
voice URL. Every call is recorded (:class:`~gateway.standins.twilio_records.CallRecord`).

Public API::

    twilio = TwilioStandIn(account_sid, auth_token, gateway_url="http://127.0.0.1:8080",
                           public_url="https://public.example")
    await twilio.start()                  # REST API on twilio.rest_url
    twilio.callees["+34600000000"] = Callee(caller=CallerScript.of(["Yes", "Friday"]))
    call = await twilio.wait_for_call()   # a call the gateway created via REST
    call = await twilio.simulate_inbound_call("+3460...", "+1555...", voice_url)
    await twilio.wait_for_call_end(call.sid, timeout_s=30)
    twilio.hangup(call.sid); twilio.press(call.sid, "1")
    message = await twilio.messaging.wait_for_message()   # SMS / WhatsApp (Messaging API)
    await twilio.stop()

``public_url`` -> ``gateway_url`` is the URL mapping: requests are signed for URLs
under ``public_url`` (as the gateway published them) and sent to ``gateway_url``;
``url_map`` adds more (public prefix, local prefix) pairs. Callees are looked up by
the ``To`` number, else ``default_callee``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from gateway.standins.twilio_call import Callee, CallEnv, CallRequest, CallSimulation
from gateway.standins.twilio_caller import CallerScript
from gateway.standins.twilio_messaging import TwilioMessaging
from gateway.standins.twilio_records import CallRecord
from gateway.standins.twilio_resources import (
    TwilioApiError,
    call_json,
    new_sid,
    rfc2822,
)
from gateway.standins.twilio_rest import Form, TwilioRestApi
from gateway.standins.twilio_signing import UrlMap
from gateway.standins.twilio_webhooks import WebhookClient
from gateway.standins.waiting import poll_until

MAX_TWIML_CHARS = 4000
MACHINE_DETECTION = frozenset({"Enable", "DetectMessageEnd"})


class TwilioStandIn:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        gateway_url: str | None = None,
        *,
        public_url: str | None = None,
        url_map: Sequence[tuple[str, str]] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        default_callee: Callee | None = None,
        require_wss: bool = False,
        say_s_per_char: float = 0.06,
        pause_scale: float = 1.0,
        transfer_hold_s: float = 0.5,
    ) -> None:
        rules = list(url_map)
        if public_url and gateway_url:
            rules.insert(0, (public_url, gateway_url))
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.url_map = UrlMap(tuple(rules))
        self.default_callee = default_callee or Callee()
        self.callees: dict[str, Callee] = {}
        self.calls: dict[str, CallRecord] = {}
        self._require_wss = require_wss
        self._say_s_per_char = say_s_per_char
        self._pause_scale = pause_scale
        self._transfer_hold_s = transfer_hold_s
        self._rest = TwilioRestApi(self, account_sid, auth_token, host, port)
        self.messaging = TwilioMessaging(self._rest.tokens)
        self._rest.serve_messages(self.messaging)
        self._env: CallEnv | None = None
        self._sims: dict[str, CallSimulation] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        webhooks = WebhookClient(self.auth_token, self.url_map)
        self.messaging.webhooks = webhooks
        self._env = CallEnv(
            self.account_sid,
            self.auth_token,
            webhooks,
            require_wss=self._require_wss,
            say_s_per_char=self._say_s_per_char,
            pause_scale=self._pause_scale,
            transfer_hold_s=self._transfer_hold_s,
            callee_for=self.callees.get,
        )
        await self._rest.start()

    async def stop(self) -> None:
        """Hang up live calls (waiting a little for them to end), then shut down."""
        for sid, sim in self._sims.items():
            if not self.calls[sid].ended.is_set():
                sim.hangup("stand-in-stopped")
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.messaging.aclose()
        await self._rest.stop()
        if self._env is not None:
            await self._env.webhooks.aclose()
            self._env = None

    async def __aenter__(self) -> TwilioStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def add_account(self, account_sid: str, auth_token: str) -> None:
        """Serve another Twilio account too (an organization's own, for BYOP)."""
        self._rest.add_account(account_sid, auth_token)

    @property
    def rest_url(self) -> str:
        """Base URL of the REST API (stands for ``https://api.twilio.com``)."""
        return self._rest.url

    @property
    def rest_requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every REST request, in order."""
        return self._rest.requests

    # --- test-facing API ------------------------------------------------------------

    async def simulate_inbound_call(
        self,
        from_: str,
        to: str,
        voice_url: str,
        *,
        method: str = "POST",
        caller: CallerScript | None = None,
        callee: Callee | None = None,
        status_callback: str | None = None,
        status_callback_events: Sequence[str] = (),
        status_callback_method: str = "POST",
    ) -> CallRecord:
        """Call the gateway's number: fetch ``voice_url`` and run what it returns.

        ``caller`` is the person calling (shorthand for ``Callee(caller=...)``).
        Returns as soon as the call exists; wait with :meth:`wait_for_call_end`.
        """
        person = callee or self.default_callee
        if caller is not None:
            person = Callee(
                answer=person.answer,
                ring_s=person.ring_s,
                answered_by=person.answered_by,
                amd_duration_ms=person.amd_duration_ms,
                caller=caller,
                probe_frames=person.probe_frames,
            )
        record = self._new_record("inbound", from_, to, {"Url": voice_url})
        record.status = "ringing"
        request = CallRequest(
            url=voice_url,
            method=method,
            status_callback=status_callback,
            status_callback_method=status_callback_method,
            status_callback_events=frozenset(status_callback_events),
        )
        sim = CallSimulation(record, self._require_env(), person, request)
        self._launch(record, sim, sim.run_inbound())
        return record

    async def wait_for_call(self, index: int = 0, timeout_s: float = 10.0) -> CallRecord:
        """The ``index``-th call (0-based, outbound or inbound), once it exists."""
        await poll_until(lambda: len(self.calls) > index, timeout_s)
        return list(self.calls.values())[index]

    async def wait_for_call_end(self, sid: str, timeout_s: float = 30.0) -> CallRecord:
        record = self.calls[sid]
        await asyncio.wait_for(record.ended.wait(), timeout_s)
        return record

    def hangup(self, sid: str) -> None:
        """The person on the phone hangs up now."""
        self._sims[sid].hangup("caller-hangup")

    def press(self, sid: str, digits: str) -> bool:
        """The person on the phone presses keys (False if no stream is live)."""
        return self._sims[sid].press(digits)

    # --- REST backend ---------------------------------------------------------------

    def create_call(self, form: Form) -> dict[str, Any]:
        one = _first(form)
        to, from_ = one("To"), one("From")
        if not to:
            raise TwilioApiError(400, 21201, "No 'To' number is specified")
        if not from_:
            raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
        url, twiml_doc = one("Url"), one("Twiml")
        if not url and not twiml_doc and not one("ApplicationSid"):
            raise TwilioApiError(
                400, 21205, "Either a 'Url', 'Twiml' or 'ApplicationSid' is required"
            )
        if url:
            _check_url("Url", url)
        if twiml_doc and len(twiml_doc) > MAX_TWIML_CHARS:
            raise TwilioApiError(400, 13230, "Twiml must not exceed 4000 characters")
        detection = one("MachineDetection")
        if detection and detection not in MACHINE_DETECTION:
            raise TwilioApiError(
                400, 21649, f"MachineDetection must be one of {sorted(MACHINE_DETECTION)}"
            )
        for key in ("StatusCallback", "AsyncAmdStatusCallback"):
            if one(key):
                _check_url(key, one(key) or "")
        request = CallRequest(
            url=url,
            method=one("Method") or "POST",
            twiml=twiml_doc,
            status_callback=one("StatusCallback"),
            status_callback_method=one("StatusCallbackMethod") or "POST",
            status_callback_events=frozenset(
                event for value in form.get("StatusCallbackEvent", []) for event in value.split()
            ),
            machine_detection=detection,
            async_amd=(one("AsyncAmd") or "").lower() == "true",
            async_amd_status_callback=one("AsyncAmdStatusCallback"),
            async_amd_status_callback_method=one("AsyncAmdStatusCallbackMethod") or "POST",
            timeout_s=float(one("Timeout") or 60),
        )
        record = self._new_record("outbound-api", from_, to, {k: v[-1] for k, v in form.items()})
        callee = self.callees.get(to, self.default_callee)
        sim = CallSimulation(record, self._require_env(), callee, request)
        self._launch(record, sim, sim.run_outbound())
        return call_json(record)

    def update_call(self, call_sid: str, form: Form) -> dict[str, Any]:
        record, sim = self._lookup(call_sid)
        one = _first(form)
        status, url, twiml_doc = one("Status"), one("Url"), one("Twiml")
        record.updates.append({k: v[-1] for k, v in form.items()})
        if url and twiml_doc:
            raise TwilioApiError(400, 21220, "Twiml and Url are mutually exclusive")
        if status is not None:
            if status not in ("completed", "canceled"):
                raise TwilioApiError(400, 21218, f"Invalid Status: {status}")
            if not record.ended.is_set():
                live = record.status == "in-progress"
                if status == "completed" or not live:
                    sim.hangup("api-hangup")
                    record.status = "completed" if live else "canceled"
            return call_json(record)
        if url or twiml_doc:
            if record.ended.is_set() or record.status != "in-progress":
                raise TwilioApiError(400, 21220, "Call is not in-progress. Cannot redirect.")
            if url:
                _check_url("Url", url)
            if twiml_doc and len(twiml_doc) > MAX_TWIML_CHARS:
                raise TwilioApiError(400, 13230, "Twiml must not exceed 4000 characters")
            sim.redirect(twiml_doc, url, one("Method") or "POST")
        return call_json(record)

    def fetch_call(self, call_sid: str) -> dict[str, Any]:
        record, _ = self._lookup(call_sid)
        return call_json(record)

    # --- internals ------------------------------------------------------------------

    def _require_env(self) -> CallEnv:
        if self._env is None:
            raise RuntimeError("TwilioStandIn is not started")
        return self._env

    def _new_record(
        self, direction: str, from_: str, to: str, request: dict[str, Any]
    ) -> CallRecord:
        record = CallRecord(
            sid=new_sid("CA"),
            account_sid=self.account_sid,
            direction=direction,
            from_=from_,
            to=to,
            request=request,
            date_created=rfc2822(),
        )
        self.calls[record.sid] = record
        return record

    def _launch(
        self, record: CallRecord, sim: CallSimulation, coro: Coroutine[Any, Any, None]
    ) -> None:
        self._sims[record.sid] = sim
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _lookup(self, call_sid: str) -> tuple[CallRecord, CallSimulation]:
        record = self.calls.get(call_sid)
        if record is None:
            raise TwilioApiError(
                404, 20404, f"The requested resource /Calls/{call_sid}.json was not found"
            )
        return record, self._sims[call_sid]


def _first(form: Form) -> Callable[[str], str | None]:
    """``one(key)``: the last value of a form field, or None."""

    def one(key: str) -> str | None:
        values = form.get(key)
        return values[-1] if values else None

    return one


def _check_url(field: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TwilioApiError(400, 21205, f"{field} is not a valid URL: {url}")
