"""What each kind of bad input leads to, in one table (DESIGN.md, "one error map").

Three outcomes only. *Refuse*: the request is not ours to process (403, logged, never
acted on). *End this call*: the input makes this call impossible to carry on, so only
this call ends. *Ignore and count*: one bad message is dropped and counted
(``parley_protocol_errors_total``), and the call goes on. Nothing here ever affects
another call or the process.

The table is data so the README and reviews can read it; each rule names the code
that enforces it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.StrEnum):
    REFUSE = "refuse (403)"
    END_CALL = "end this call only"
    IGNORE_AND_COUNT = "ignore and count"


@dataclass(frozen=True, slots=True)
class Rule:
    input: str
    outcome: Outcome
    enforced_in: str


RULES: tuple[Rule, ...] = (
    Rule("Twilio webhook with a missing or wrong signature", Outcome.REFUSE, "routes_twilio"),
    Rule("media socket upgrade without a valid signature", Outcome.REFUSE, "routes_media"),
    Rule("stream start with a wrong, spent or expired token", Outcome.END_CALL, "routes_media"),
    Rule("stream start for an unknown call SID", Outcome.END_CALL, "routes_media"),
    Rule("anything but connected/start before start", Outcome.END_CALL, "routes_media"),
    Rule(
        "Twilio frame that is not JSON, unknown, or lacks a field",
        Outcome.IGNORE_AND_COUNT,
        "call_runner",
    ),
    Rule("Twilio binary or oversized (> 64 KiB) frame", Outcome.IGNORE_AND_COUNT, "call_runner"),
    Rule("Twilio media for another streamSid or not base64", Outcome.IGNORE_AND_COUNT, "bridge"),
    Rule(
        "agent frame that is not JSON or lacks a field", Outcome.IGNORE_AND_COUNT, "agent_session"
    ),
    Rule("agent event of a type the bridge does not use", Outcome.IGNORE_AND_COUNT, "agent_events"),
    Rule("agent audio after an interruption of its response", Outcome.IGNORE_AND_COUNT, "bridge"),
    Rule("agent audio format the bridge cannot carry", Outcome.END_CALL, "bridge"),
    Rule("agent socket lost twice (one reconnect is tried)", Outcome.END_CALL, "bridge"),
    Rule(
        "client tool unknown, invalid, slow or failing",
        Outcome.IGNORE_AND_COUNT,
        "agent_tools.registry",
    ),
)
