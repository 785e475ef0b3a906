"""The plain data the call core works with: who the call is, its phases, its tunables."""

from __future__ import annotations

import enum
from dataclasses import dataclass

NORMAL_CLOSE = 1000
# Twilio's asynchronous AMD verdicts that mean "an answering machine took the call".
MACHINE_VERDICTS = frozenset(
    {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other"}
)


class Phase(enum.Enum):
    AWAITING_START = "awaiting_start"
    LIVE = "live"
    ENDING = "ending"  # the agent ended the call; its last words are still playing
    HANDED_OFF = "handed_off"  # the call's TwiML was replaced; waiting for Twilio's stop
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class CallInfo:
    call_sid: str
    org_id: str
    account_id: str
    direction: str


@dataclass(frozen=True, slots=True)
class BridgeTimings:
    """Tunables; the defaults suit a phone line."""

    end_grace_s: float = 0.7
    end_max_wait_s: float = 15.0
    handoff_wait_s: float = 5.0
    max_pending_caller_frames: int = 500  # 10 s of caller audio while the agent connects
    tail_quiet_s: float = 0.15  # agent pause after which a response's held tail plays
