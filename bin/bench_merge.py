"""Join what the two bench peers recorded into the benchmark's figures (plain JSON data).

Frames: each direction's sender knows how many frames it sent per call, the receiver
knows which arrived. Agent frames missing at the Twilio side that belong to a response
the agent interrupted are *dropped by barge-in* (the gateway drops a cut response's
queued frames by design); every other missing frame is *dropped*, and ``dropped_tail``
says how many of those were after the last frame that arrived (lost at the end).

Events: the n-th ``interruption`` the agent peer sent on a call is matched with the
n-th ``clear`` the Twilio peer received on it.

Times received are arrivals at the receiving peer's socket (:mod:`bin.bench_socket`);
for the two directions and the clears, the figures to the moment the peer read them
are kept beside them (``read_latency_ms``, ``interruption_to_clear_read_ms``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bin.bench_agent import AgentCall, AgentReport
from bin.bench_arrivals import Arrivals
from bin.bench_twilio import TwilioReport

NS_PER_MS = 1e6


def summary_ms(values_ns: Any) -> dict[str, float | int]:
    """p50 / p99 / max / mean in milliseconds, and the sample count."""
    data = np.asarray(values_ns, dtype=np.float64)
    if data.size == 0:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0, "n": 0}
    p50, p99 = np.percentile(data, [50, 99])
    return {
        "p50": round(float(p50) / NS_PER_MS, 3),
        "p99": round(float(p99) / NS_PER_MS, 3),
        "max": round(float(data.max()) / NS_PER_MS, 3),
        "mean": round(float(data.mean()) / NS_PER_MS, 3),
        "n": int(data.size),
    }


def frame_faults(direction: dict[str, Any]) -> int:
    """Frames dropped, reordered, duplicated, misrouted or unreadable in one direction."""
    keys = ("dropped", "reordered", "duplicates", "misrouted", "untagged", "unexpected")
    return sum(int(direction[k]) for k in keys)


def _latencies(arrivals: list[Arrivals], *, read: bool = False) -> Any:
    arrays = [a.read_latency_ns if read else a.latency_ns for a in arrivals]
    parts = [np.frombuffer(values, dtype=np.int64) for values in arrays if len(values)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _direction(pairs: list[tuple[int, Arrivals, list[tuple[int, int]]]]) -> dict[str, Any]:
    """Figures of one direction from (frames sent, arrivals, excused ranges) per call."""
    sent = received = dropped = tail = barge_in = unexpected = 0
    reordered = duplicates = foreign = untagged = 0
    for frames_sent, arrivals, excused in pairs:
        sent += frames_sent
        received += arrivals.received
        reordered += arrivals.reordered
        duplicates += arrivals.duplicates
        foreign += arrivals.foreign
        untagged += arrivals.untagged
        unexpected += arrivals.unexpected(frames_sent)
        for seq in arrivals.missing(frames_sent):
            if any(lo <= seq < hi for lo, hi in excused):
                barge_in += 1
            else:
                dropped += 1
                tail += seq > arrivals.max_seq
    return {
        "frames_sent": sent,
        "frames_received": received,
        "dropped": dropped,
        "dropped_tail": tail,
        "dropped_by_barge_in": barge_in,
        "reordered": reordered,
        "duplicates": duplicates,
        "misrouted": foreign,
        "untagged": untagged,
        "unexpected": unexpected,
        "latency_ms": summary_ms(_latencies([p[1] for p in pairs])),
        "read_latency_ms": summary_ms(_latencies([p[1] for p in pairs], read=True)),
    }


def merge(twilio: TwilioReport, agent: AgentReport) -> dict[str, Any]:
    """The figures of one run; see the module docstring."""
    by_index: dict[int, AgentCall] = {}
    duplicate_sessions = 0
    for conversation in agent.calls:
        duplicate_sessions += conversation.index in by_index
        by_index[conversation.index] = conversation
    c2a: list[tuple[int, Arrivals, list[tuple[int, int]]]] = []
    a2c: list[tuple[int, Arrivals, list[tuple[int, int]]]] = []
    to_clear: list[int] = []
    to_clear_read: list[int] = []
    first_frame: list[int] = []
    interruptions = clears = unmatched = 0
    errors: list[str] = []
    completed = no_agent = 0
    for call in twilio.calls:
        session = by_index.get(call.index)
        if call.error:
            errors.append(f"call {call.index}: {call.error}")
        elif call.closed_by_gateway:
            completed += 1
        if call.start_sent_ns and call.first_media_ns:
            first_frame.append(call.first_media_ns - call.start_sent_ns)
        if session is None:
            no_agent += call.start_sent_ns > 0
            continue
        c2a.append((call.frames_sent, session.caller, []))
        excused = [(r.first_seq, r.end_seq) for r in session.responses if r.interrupted]
        a2c.append((session.frames_sent, call.agent, excused))
        interruptions += len(session.interruptions_ns)
        clears += len(call.clears_ns)
        unmatched += abs(len(session.interruptions_ns) - len(call.clears_ns))
        for sent_ns, got_ns in zip(session.interruptions_ns, call.clears_ns, strict=False):
            to_clear.append(got_ns - sent_ns)
        for sent_ns, read_ns in zip(session.interruptions_ns, call.clears_read_ns, strict=False):
            to_clear_read.append(read_ns - sent_ns)
    return {
        "calls": {
            "placed": len(twilio.calls),
            "completed": completed,
            "failed": len(errors),
            "without_agent_session": no_agent,
            "agent_sessions": len(agent.calls),
            "agent_sessions_refused": agent.refused,
            "agent_sessions_left_open": agent.left_open,
            "agent_sessions_duplicated": duplicate_sessions,
            "agent_first": sum(1 for s in agent.calls if s.first_message),
            "agent_slots_skipped_late": sum(s.slots_skipped for s in agent.calls),
            "errors": errors[:5],
        },
        "caller_to_agent": _direction(c2a),
        "agent_to_caller": _direction(a2c),
        "interruption_to_clear_ms": {
            **summary_ms(to_clear),
            "interruptions": interruptions,
            "clears": clears,
            "unmatched": unmatched,
            "negative": sum(1 for v in to_clear if v < 0),
        },
        "interruption_to_clear_read_ms": summary_ms(to_clear_read),
        "start_to_first_agent_frame_ms": summary_ms(first_frame),
        "ping_rtt_ms": summary_ms([v for s in agent.calls for v in s.ping_rtt_ns]),
        "tool_round_trip_ms": {
            **summary_ms([v for s in agent.calls for v in s.tool_rtt_ns]),
            "errors": sum(len(s.tool_errors) for s in agent.calls),
            "error_samples": [e for s in agent.calls for e in s.tool_errors][:3],
        },
        "marks": {
            "received": sum(c.marks_received for c in twilio.calls),
            "echoed": sum(c.marks_echoed for c in twilio.calls),
        },
        "peer_tick_lateness_ms": {
            "twilio": summary_ms(twilio.tick_lateness_ns),
            "agent": summary_ms(agent.tick_lateness_ns),
        },
    }
