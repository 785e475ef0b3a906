"""Acting on a call from whichever process a request landed on.

An operator's hang-up, an answering-machine verdict, a supervisor's "transfer to me"
or a server tool's "end the call" may arrive on any gateway process, but only the
process running the call's media stream (the record's ``owner``) can act on it. So
every such action goes through :meth:`CallControl.send`: it runs on the local
:class:`~gateway.call_runner.CallRunner` when the call streams here, and otherwise is
published on the owner's own control channel in Redis (``ctl:<gateway id>``), which
that process listens to. The same goes for closing a prewarmed agent session held by
the process that answered the TwiML request when the stream landed elsewhere.

Adding an action means one entry in :data:`ACTIONS`: a name and what the runner does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from gateway.calls import CallRecord
from gateway.prewarm import PrewarmPool
from gateway.redis_link import RedisLink

if TYPE_CHECKING:
    from gateway.call_runner import CallRunner

log = structlog.get_logger(__name__)

Action = Callable[["CallRunner", dict[str, Any]], None]

ACTIONS: dict[str, Action] = {
    "hang_up": lambda runner, args: runner.request_hang_up(str(args.get("reason", "ended"))),
    "answered_by": lambda runner, args: runner.answered_by(str(args["verdict"])),
    "end_after_speech": lambda runner, _args: runner.end_after_speech(),
    "transfer": lambda runner, args: runner.transfer(str(args["number"]), str(args["brief"])),
    "supervisor_transfer": lambda runner, args: runner.supervisor_transfer(
        str(args["number"]), str(args["brief"])
    ),
}
DISCARD_PREWARM = "discard_prewarm"


class CallControl:
    """See the module docstring. ``link`` is None for a single process (no Redis)."""

    def __init__(
        self,
        runners: dict[str, CallRunner],
        prewarm: PrewarmPool,
        gateway_id: str,
        link: RedisLink | None = None,
    ) -> None:
        self._runners = runners
        self._prewarm = prewarm
        self.gateway_id = gateway_id
        self._link = link
        self.received = 0

    def channel(self, gateway_id: str) -> str:
        assert self._link is not None
        return self._link.key("ctl", gateway_id)

    async def send(self, record: CallRecord, action: str, **args: Any) -> bool:
        """Have the process running ``record``'s stream perform ``action``.

        Returns:
            False when no live process runs the call's stream (it has not started,
            has ended, or its process is gone); True once it was handed over.

        Raises:
            KeyError: ``action`` is not one of :data:`ACTIONS`.
            RedisUnavailable: the owner is another process and Redis did not answer.
        """
        perform = ACTIONS[action]
        runner = self._runners.get(record.call_sid)
        if runner is not None:
            perform(runner, args)
            return True
        owner = record.owner
        if self._link is None or not owner or owner == self.gateway_id:
            return False
        return await self._publish(owner, action, record.call_sid, args)

    async def discard_prewarm(self, record: CallRecord) -> None:
        """Close the call's prewarmed agent session, wherever it was opened."""
        holder = record.prewarm_on
        if not holder or holder == self.gateway_id or self._link is None:
            self._prewarm.discard(record.call_sid)
            return
        await self._publish(holder, DISCARD_PREWARM, record.call_sid, {})

    async def _publish(
        self, gateway_id: str, action: str, call_sid: str, args: dict[str, Any]
    ) -> bool:
        assert self._link is not None
        message = orjson.dumps({"action": action, "call_sid": call_sid, "args": args})
        client = self._link.client
        receivers = await self._link.call(
            "control", client.publish(self.channel(gateway_id), message)
        )
        return int(receivers) > 0

    # ------------------------------------------------------------ receiving
    def start(self) -> None:
        if self._link is not None:
            self._link.listen(self.channel(self.gateway_id), self._on_message)

    def _on_message(self, _channel: str, data: bytes) -> None:
        try:
            message = orjson.loads(data)
            action, call_sid = str(message["action"]), str(message["call_sid"])
            args = dict(message.get("args") or {})
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("control.bad_message")
            return
        self.received += 1
        if action == DISCARD_PREWARM:
            self._prewarm.discard(call_sid)
            return
        perform = ACTIONS.get(action)
        runner = self._runners.get(call_sid)
        if perform is None or runner is None:
            log.info(
                "control.no_target", action=action, call_sid=call_sid, known=perform is not None
            )
            return
        try:
            perform(runner, args)
        except (KeyError, TypeError, ValueError):
            log.warning("control.bad_arguments", action=action, call_sid=call_sid)
