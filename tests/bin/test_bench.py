"""``parley bench``: a tiny real run (3 calls x 3 s) and its pure parts.

Behaviour only, never timings: the figures exist, frames went both ways and none was
lost, every interruption met its clear, and no gateway process outlives the run.
"""

from __future__ import annotations

import copy
from typing import Any

import psutil
import pytest

from bin import bench_agent, bench_merge, bench_report, bench_tag, bench_twilio, bench_ws
from bin.bench_agent import AgentCall, AgentReport, Response
from bin.bench_arrivals import Arrivals
from bin.bench_merge import merge
from bin.bench_twilio import TwilioCall, TwilioReport
from gateway import agent_events, twilio_events
from tests.bin.bench_cli import bench_report_json

DISTRIBUTION = {"p50", "p99", "max", "n"}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """One real benchmark run through the CLI, with ``--json``; its parsed output."""
    return bench_report_json(
        *("--calls", "3", "--seconds", "3", "--tool-calls", "2", "--tool-seconds", "3")
    )


def test_report_has_every_figure(report: dict[str, Any]) -> None:
    run = report["main"]
    for direction in ("caller_to_agent", "agent_to_caller"):
        assert set(run[direction]["latency_ms"]) >= DISTRIBUTION
        assert run[direction]["latency_ms"]["n"] > 0
        # Every frame reached the socket before the stand-in read it: each percentile
        # to the socket is at most the same percentile to the read.
        to_socket, to_read = run[direction]["latency_ms"], run[direction]["read_latency_ms"]
        assert to_read["n"] == to_socket["n"]
        assert all(to_socket[k] <= to_read[k] for k in ("p50", "p99", "max"))
        for key in ("frames_sent", "frames_received", "dropped", "reordered"):
            assert key in run[direction]
    assert set(run["interruption_to_clear_ms"]) >= DISTRIBUTION
    assert run["start_to_first_agent_frame_ms"]["n"] == 3
    assert report["no_prewarm"]["start_to_first_agent_frame_ms"]["n"] > 0
    assert report["no_prewarm"]["run"]["prewarm"] is False
    for key in ("cpu_ms_per_call_second", "memory_per_call_kb", "cpu_percent"):
        assert isinstance(run["gateway"][key], float)
    for key in (
        "twilio_peer_cpu_percent",
        "agent_peer_cpu_percent",
        "machine_cpu_percent",
        "gateway_cpu_steal_percent",
        "peer_cpu_steal_percent",
    ):
        assert isinstance(run["load"][key], float)
        assert run["load"][key] >= 0.0
    names = [t["name"] for t in report["targets"]]
    assert len(names) == 6  # the tool round trip, and no find-max in this run
    assert all(t["pass"] in (True, False) for t in report["targets"])


def test_frames_went_both_ways_and_none_was_lost(report: dict[str, Any]) -> None:
    run = report["main"]
    assert run["calls"]["completed"] == run["calls"]["placed"] == 3
    assert run["calls"]["agent_first"] == 3
    for direction in ("caller_to_agent", "agent_to_caller"):
        figures = run[direction]
        assert figures["frames_received"] > 0
        assert figures["frames_received"] == figures["frames_sent"] - figures["dropped_by_barge_in"]
        assert figures["dropped"] == 0
        assert figures["reordered"] == 0
        assert bench_merge.frame_faults(figures) == 0


def test_every_interruption_met_its_clear(report: dict[str, Any]) -> None:
    clear = report["main"]["interruption_to_clear_ms"]
    assert clear["interruptions"] >= 3  # at least one per call
    assert clear["clears"] == clear["interruptions"]
    assert clear["unmatched"] == 0
    assert clear["negative"] == 0
    assert clear["n"] == clear["interruptions"]
    read = report["main"]["interruption_to_clear_read_ms"]
    assert read["n"] == clear["n"] and read["p50"] >= clear["p50"]


def test_tool_calls_are_answered_from_the_accounts(report: dict[str, Any]) -> None:
    trip = report["tools"]["tool_round_trip_ms"]
    assert set(trip) >= DISTRIBUTION
    assert trip["n"] >= 4  # two calls, a tool call a second, three seconds each
    assert trip["errors"] == 0, trip["error_samples"]
    assert any(t["name"].startswith("tool round trip") for t in report["targets"])


def test_no_gateway_process_outlives_the_run(report: dict[str, Any]) -> None:
    for stage in (report["main"], report["no_prewarm"], report["tools"]):
        pid = stage["gateway"]["pid"]
        assert stage["gateway"]["gone_after"]
        assert not psutil.pid_exists(pid)


def test_the_table_shows_every_figure(report: dict[str, Any]) -> None:
    text = bench_report.render(report)
    for label in (
        "added latency caller->agent",
        "added latency agent->caller",
        "interruption -> clear",
        "start -> 1st agent frame, prewarm",
        "start -> 1st agent frame, no prewarm",
        "dropped",
        "reordered",
        "ms per call-second",
        "KB per call",
        "bench peers CPU",
        "host steal",
        bench_report.READ_LABEL,
        "tool call -> result",
    ):
        assert label in text
    assert "PASS" in text or "FAIL" in text


def test_time_taken_by_the_host_counts_as_a_busy_machine(report: dict[str, Any]) -> None:
    """Steal on either side makes a find-max step 'machine busy' (so it is run again)."""
    figures = copy.deepcopy(report["main"])
    load = figures["load"]
    load.update(
        other_processes_cpu_percent=0.0, gateway_cpu_steal_percent=0.0, peer_cpu_steal_percent=0.0
    )
    assert not bench_report.machine_busy(figures)
    load["peer_cpu_steal_percent"] = 8.0
    assert bench_report.machine_busy(figures)
    step = bench_report.step_summary(figures, ok=False)
    assert step["machine_busy"] and step["steal_percent"] == 8.0
    load.update(peer_cpu_steal_percent=0.0, gateway_cpu_steal_percent=8.0)
    assert bench_report.machine_busy(figures)
    assert "latency tails follow it" in bench_report.render({**report, "main": figures})


# ------------------------------------------------------------------ pure parts
def test_tags_survive_base64_and_reframing() -> None:
    payload = bench_tag.frame_b64(7, 123_456, 987_654_321_012)
    assert len(payload) == bench_tag.FRAME_B64
    assert bench_tag.read_b64(payload) == (7, 123_456, 987_654_321_012)
    chunk = bench_tag.chunk_b64(3, 10, 5, 42)
    assert bench_tag.read_payload(chunk) == [(3, 10 + k, 42) for k in range(5)]
    assert bench_tag.read_b64(bench_tag.BODY_B64) is None
    tagged = bench_tag.tag(65_535, 2**24 - 1, 2**64 - 1)
    assert all(b >= 0x70 for b in tagged)  # near-silence mu-law codes only


def test_arrivals_count_gaps_reorders_and_duplicates() -> None:
    arrivals = Arrivals(call=1, warmup_frames=2)
    for seq in (0, 1, 3, 2, 3, 6):
        arrivals.note((1, seq, 0), 5, 3)
    arrivals.note((2, 4, 0), 5, 3)
    arrivals.note(None, 5, 3)
    assert arrivals.received == 5
    assert arrivals.reordered == 1
    assert arrivals.duplicates == 1
    assert arrivals.foreign == 1
    assert arrivals.untagged == 1
    assert arrivals.missing(8) == [4, 5, 7]
    assert list(arrivals.latency_ns) == [3] * 3  # 3, 2 and 6; 0 and 1 are the warm-up
    assert list(arrivals.read_latency_ns) == [5] * 3  # the same frames, to their read


def test_frames_of_an_interrupted_response_are_not_faults() -> None:
    caller = Arrivals(0)
    agent = Arrivals(0)
    for seq in range(10):
        caller.note((0, seq, 0), 1, 1)
    for seq in (*range(5), *range(8, 12)):  # 5..7 were cut by a barge-in
        agent.note((0, seq, 0), 1, 1)
    twilio = TwilioCall(
        0,
        "CA" + "0" * 32,
        agent,
        frames_sent=10,
        clears_ns=[20_000_000],
        clears_read_ns=[22_000_000],
    )
    twilio.closed_by_gateway = True
    session = AgentCall(0, twilio.call_sid, "hi", 0, caller, frames_sent=13)
    session.responses = [Response(1, 0, 8, interrupted=True), Response(2, 8, 13)]
    session.interruptions_ns = [15_000_000]
    figures = merge(TwilioReport([twilio], []), AgentReport([session], [], 0, 0))
    a2c = figures["agent_to_caller"]
    assert a2c["dropped_by_barge_in"] == 3
    assert a2c["dropped"] == 1  # 12 never arrived and was not cut
    assert a2c["dropped_tail"] == 1
    assert figures["caller_to_agent"]["dropped"] == 0
    assert figures["interruption_to_clear_ms"]["n"] == 1
    assert figures["interruption_to_clear_ms"]["p50"] == pytest.approx(5.0)
    assert figures["interruption_to_clear_read_ms"]["p50"] == pytest.approx(7.0)


# ------------------------------------------------------------------ the peers' fast reads
def _media(call: int, seqs: list[int]) -> list[bytes]:
    """What the gateway sends Twilio for these frames (its own builder)."""
    return [
        twilio_events.media_message("MZ" + "0" * 32, bench_tag.frame_b64(call, seq, 1)).encode()
        for seq in seqs
    ]


def test_the_twilio_peer_reads_the_gateways_media_and_finds_every_fault() -> None:
    rec = TwilioCall(4, "CA" + "0" * 32, Arrivals(4, warmup_frames=0))
    line = bench_twilio._Line(rec, "MZ" + "0" * 32, "AC" + "0" * 32, frames=10)
    messages = _media(4, [0, 1, 3, 2, 3, 6]) + _media(5, [4])  # reordered, duplicate, foreign
    messages.append(twilio_events.media_message("MZ", bench_tag.BODY_B64).encode())  # untagged
    two = bench_tag.chunk_b64(4, 7, 2, 1)  # two frames in one message: the slow path
    messages.append(twilio_events.media_message("MZ", two).encode())
    for message in messages:
        line.on_message(bench_ws.OP_TEXT, message, 1_000_101, 1_000_001)
    line.on_message(bench_ws.OP_BINARY, b"\x00", 1_000_101, 1_000_001)
    arrivals = rec.agent
    assert (arrivals.received, arrivals.reordered, arrivals.duplicates) == (7, 1, 1)
    assert (arrivals.foreign, arrivals.untagged) == (1, 1)
    assert arrivals.missing(10) == [4, 5, 9]
    assert list(arrivals.latency_ns) == [1_000_000] * 7  # sent at 1, at the socket at 1_000_001
    assert list(arrivals.read_latency_ns) == [1_000_100] * 7
    assert rec.media_received == 9 and rec.other_messages == 1
    assert line.play_end_ns == 1_000_101 + 10 * bench_twilio.FRAME_NS  # 10 frames queued


async def test_the_agent_peer_reads_the_gateways_caller_audio_and_finds_every_fault() -> None:
    ws = bench_ws.WsEndpoint(lambda *_: None, client=False)
    rec = AgentCall(2, "CA" + "0" * 24 + "00000002", "", 0, Arrivals(2, warmup_frames=0))
    conv = bench_agent._Conversation(ws, rec, bench_agent.Expect(seconds=3))
    frames = [bench_tag.frame_b64(2, seq, 5) for seq in (0, 2, 1, 1)]
    frames.append(bench_tag.frame_b64(3, 3, 5))  # another call's frame: misrouted
    frames.append(bench_tag.chunk_b64(2, 3, 3, 5))  # three frames at once
    for audio in frames:
        conv.on_message(bench_ws.OP_TEXT, agent_events.user_audio_message(audio).encode(), 9, 8)
    conv.on_message(bench_ws.OP_TEXT, b'{"type":"pong","event_id":77}', 9, 8)  # no such ping
    conv.on_message(bench_ws.OP_TEXT, b"not json", 9, 8)
    arrivals = rec.caller
    assert (arrivals.received, arrivals.reordered, arrivals.duplicates) == (6, 1, 1)
    assert arrivals.foreign == 1
    assert arrivals.missing(7) == [6]
    assert conv.caller_heard
    assert rec.other_messages == 1 and rec.ping_rtt_ns == []


def test_the_peers_messages_are_what_the_gateway_parses() -> None:
    media = bench_twilio.MEDIA_TEMPLATE % (7, b"MZ1", 3, 40, bench_tag.frame_b64_bytes(1, 2, 3))
    event = twilio_events.parse(media)
    assert isinstance(event, twilio_events.Media)
    assert (event.stream_sid, event.timestamp_ms) == ("MZ1", 40)
    assert bench_tag.read_payload(event.payload) == [(1, 2, 3)]
    chunk = bench_tag.chunk_b64_bytes(1, 0, 5, 3)
    audio = agent_events.parse(bench_agent.AUDIO_TEMPLATE % (chunk, 4))
    assert isinstance(audio, agent_events.Audio) and audio.event_id == 4
    assert bench_tag.read_payload(audio.audio_b64) == [(1, k, 3) for k in range(5)]
    ping = agent_events.parse(bench_agent.PING_TEMPLATE % 9)
    assert isinstance(ping, agent_events.Ping) and ping.event_id == 9
