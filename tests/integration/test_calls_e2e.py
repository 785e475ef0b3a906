"""Whole calls through the real gateway, with both stand-ins as its peers.

Outbound calls are placed like an operator does (``POST /api/calls``, through the
Twilio stand-in's REST API); inbound calls arrive from the Twilio stand-in's phone
network. Assertions are on what the peers witnessed: what the caller heard, what
the agent heard, how each socket ended, and the call record an operator reads.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.call_runner import CallRunner
from gateway.standins.elevenlabs import ConversationRecord, EndCall, Listen
from gateway.standins.speech import synthesize
from gateway.standins.twilio_caller import CallerLine
from gateway.standins.twilio_records import StreamRecord
from gateway.standins.waiting import poll_until
from media import mulaw
from tests.integration.e2e import (
    DEBTOR,
    E2E,
    agent_options,
    caller,
    e2e,
    recording_of,
    script,
    wav_channels,
    wav_rms,
)
from tests.integration.harness import ORG_B_KEY
from tests.system_tools import require_tool

#: The gateway's English greeting, filled with the variables ``place_call`` sends.
GREETING = "Hello, this is Acme. Am I speaking with Ann?"
GOODBYE = "Thank you for your time. Goodbye."


@pytest.fixture(autouse=True)
def _espeak() -> None:
    require_tool("espeak-ng")


# --------------------------------------------------------------------------- helpers


def assert_pongs(conv: ConversationRecord, stream: StreamRecord) -> None:
    """Every ping the agent sent while the call was up got its pong."""
    assert stream.ended_at is not None
    due = [eid for eid, at in conv.pings_sent.items() if at < stream.ended_at - 0.1]
    assert len(due) >= 2, f"too few pings to judge: {conv.pings_sent}"
    answered = {pong.event_id for pong in conv.pongs}
    assert set(due) <= answered, f"pings without pong: {sorted(set(due) - answered)}"


async def assert_recorded(record: dict[str, Any], min_s: float) -> None:
    """A two-channel WAV with the caller on the left and the agent on the right."""
    path = await recording_of(record)
    channels, rate, seconds = wav_channels(path)
    assert (channels, rate) == (2, 8000)
    assert seconds >= min_s
    rms = wav_rms(path)
    assert rms[0] > 100, f"no caller speech in the left channel: {rms}"
    assert rms[1] > 100, f"no agent speech in the right channel: {rms}"


def assert_heard_everything(conv: ConversationRecord, stream: StreamRecord) -> None:
    """The caller heard every agent response in full (calls without barge-in)."""
    spoken = sum(turn.duration_s for turn in conv.agent_turns)
    assert spoken > 0.5
    assert stream.played_s >= spoken - 0.001, (stream.played_s, spoken)


def statuses(record: dict[str, Any]) -> list[str]:
    return [s["status"] for s in record["status_history"]]


async def runner_of(rig: E2E, sid: str) -> CallRunner:
    runners = rig.gw.services.runners
    await poll_until(lambda: sid in runners, 10)
    return runners[sid]


# ------------------------------------------------------------------- opening modes


async def test_outbound_agent_first_call(tmp_path: Path) -> None:
    async with e2e(tmp_path) as rig:
        rig.callee(DEBTOR, caller("Yes."))
        placed = await rig.place_call(opening_mode="agent_first")
        sid = placed["call_sid"]
        twilio_call = await rig.call_end(sid)
        record = await rig.ended_call(placed["call_ref"])
        conv = await rig.conversation_of(sid)
        await conv.wait_closed(2.0)
        stream = twilio_call.stream
        assert stream is not None

        assert record["outcome"] == "completed"
        assert record["end_reason"] == "agent_ended"
        assert record["transcript"] == [
            {"role": "agent", "text": GREETING},
            {"role": "caller", "text": "Yes."},
            {"role": "agent", "text": "Goodbye."},
        ]
        # The agent spoke first, and the caller heard it before answering.
        assert conv.init is not None
        assert conv.init["conversation_config_override"]["agent"]["first_message"] != ""
        assert conv.agent_turns[0].text == GREETING
        assert stream.first_media_at is not None
        assert stream.caller_lines[0].started_at > stream.first_media_at
        assert_heard_everything(conv, stream)
        assert conv.user_transcripts == ["Yes."]
        # The gateway hung up: Twilio's stream was closed by it, then <Hangup/> ran.
        assert stream.end_reason == "server-closed"
        assert twilio_call.end_reason == "hangup-verb"
        assert conv.closed_by == "client"
        assert_pongs(conv, stream)
        assert statuses(record) == ["initiated", "ringing", "in-progress", "completed"]
        assert record["status"] == "completed"
        assert record["answered_by"] == "human"
        await assert_recorded(record, min_s=3.0)


async def test_outbound_callee_first_call(tmp_path: Path) -> None:
    agent = script(Listen("Hello?"), EndCall(goodbye="Hi Ann, this is Acme. Goodbye."))
    async with e2e(tmp_path, agent_script=agent) as rig:
        rig.callee(DEBTOR, caller("Hello?", speak_first=True))
        placed = await rig.place_call(opening_mode="callee_first")
        sid = placed["call_sid"]
        twilio_call = await rig.call_end(sid)
        record = await rig.ended_call(placed["call_ref"])
        conv = await rig.conversation_of(sid)
        await conv.wait_closed(2.0)
        stream = twilio_call.stream
        assert stream is not None

        assert conv.init is not None
        assert conv.init["conversation_config_override"]["agent"]["first_message"] == ""
        # The agent waited: its first audio went out only after the caller spoke.
        first_line = stream.caller_lines[0]
        first_audio = conv.agent_turns[0].first_audio_at
        assert first_audio is not None and first_audio > first_line.started_at
        assert stream.first_media_at is not None
        assert stream.first_media_at > first_line.started_at
        assert record["transcript"] == [
            {"role": "caller", "text": "Hello?"},
            {"role": "agent", "text": "Hi Ann, this is Acme. Goodbye."},
        ]
        assert record["outcome"] == "completed"
        assert_heard_everything(conv, stream)
        assert_pongs(conv, stream)
        assert statuses(record) == ["initiated", "ringing", "in-progress", "completed"]
        await assert_recorded(record, min_s=2.0)


async def test_inbound_call(tmp_path: Path) -> None:
    async with e2e(tmp_path) as rig:
        twilio_call = await rig.inbound_call(caller("Yes."))
        sid = twilio_call.sid
        await rig.call_end(sid)
        record = await rig.ended_call(sid)
        conv = await rig.conversation_of(sid)
        await conv.wait_closed(2.0)
        stream = twilio_call.stream
        assert stream is not None

        assert record["direction"] == "inbound"
        assert record["org_id"] == "org-a"
        assert record["outcome"] == "completed"
        greeting = conv.agent_turns[0].text
        assert greeting.startswith("Hello, this is org-a.")
        assert record["transcript"] == [
            {"role": "agent", "text": greeting},
            {"role": "caller", "text": "Yes."},
            {"role": "agent", "text": "Goodbye."},
        ]
        assert stream.first_media_at is not None
        assert stream.caller_lines[0].started_at > stream.first_media_at
        assert_heard_everything(conv, stream)
        assert_pongs(conv, stream)
        assert {"in-progress", "completed"} <= set(statuses(record))
        assert record["status"] == "completed"
        await assert_recorded(record, min_s=3.0)


# ------------------------------------------------------------------------ barge-in


async def test_barge_in_clears_twilio_and_drops_the_rest_of_the_response(tmp_path: Path) -> None:
    agent = script(Listen("Sorry, who is this?"), EndCall(goodbye="Goodbye."))
    async with e2e(tmp_path, agent_script=agent) as rig:
        rig.callee(DEBTOR, caller(CallerLine("Sorry, who is this?", barge_in_after_ms=800)))
        placed = await rig.place_call(opening_mode="agent_first")
        sid = placed["call_sid"]
        stream = await rig.stream_of(sid)
        runner = await runner_of(rig, sid)
        # What the gateway believes the caller heard never exceeds what Twilio played:
        # marks echoed by a clear must not count as heard.
        overclaims: list[tuple[float, float]] = []

        async def watch_heard() -> None:
            while not runner.bridge.ended:
                heard = runner.bridge.playout.heard_s
                played = stream.played_s
                if heard > played + 0.021:
                    overclaims.append((heard, played))
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch_heard())
        twilio_call = await rig.call_end(sid)
        await watcher
        record = await rig.ended_call(placed["call_ref"])
        conv = await rig.conversation_of(sid)

        greeting, goodbye = conv.agent_turns[0], conv.agent_turns[-1]
        assert greeting.interrupted and conv.interruptions
        assert len(stream.clears) == 1, stream.clears
        cleared_at = stream.clears[0]
        assert any(echo.cleared for echo in stream.marks_echoed), "no mark was pending"
        assert stream.dropped_bytes > 0
        assert not overclaims, overclaims[:5]
        # Nothing of the interrupted greeting played after the clear: the audio that
        # was still queued in the gateway was dropped, not sent.
        assert goodbye.first_audio_at is not None
        for start, end in stream.played_segments:
            if start < cleared_at:
                assert end <= cleared_at + 0.1, (start, end, cleared_at)
            else:
                assert start >= goodbye.first_audio_at, (start, goodbye.first_audio_at)
        assert stream.played_s < greeting.duration_s - 0.5
        # The record keeps what the caller actually heard of the greeting.
        first = record["transcript"][0]
        assert first["role"] == "agent"
        assert first["text"] != GREETING and GREETING.startswith(first["text"])
        assert record["outcome"] == "completed"
        assert twilio_call.ended.is_set()


# ---------------------------------------------------------------------------- DTMF


async def test_keypad_digit_reaches_the_agent_and_the_live_feed(tmp_path: Path) -> None:
    async with e2e(tmp_path) as rig, rig.live() as feed:
        rig.callee(DEBTOR, caller())  # listens, says nothing
        placed = await rig.place_call()
        sid = placed["call_sid"]
        stream = await rig.stream_of(sid)
        await poll_until(lambda: stream.first_media_at is not None, 5)
        assert rig.twilio.press(sid, "7")
        conv = await rig.conversation_of(sid)
        await conv.wait_until(lambda c: any("7" in u for u in c.contextual_updates), 5)
        assert conv.contextual_updates == ["The caller pressed the key 7 on their phone keypad."]
        event = await feed.wait_for("dtmf", 5)
        assert event["call_sid"] == sid and event["data"] == {"digit": "7"}
        rig.twilio.hangup(sid)
        record = await rig.ended_call(placed["call_ref"])
        assert record["outcome"] == "caller_hung_up"
        assert stream.dtmf_sent == ["7"]


# ----------------------------------------------------------------- who ends the call


@pytest.mark.parametrize("via", ["client", "system"])
async def test_agent_ends_the_call_after_its_last_words_played(tmp_path: Path, via: str) -> None:
    """``via=system`` is the real service's habit of closing its socket right after
    ``end_call``, long before the goodbye has played: the gateway must still play it."""
    agent = script(Listen("Yes."), EndCall(goodbye=GOODBYE, via=via))  # type: ignore[arg-type]
    async with e2e(tmp_path, agent_script=agent) as rig:
        rig.callee(DEBTOR, caller("Yes.", speak_first=True))
        placed = await rig.place_call(opening_mode="callee_first")
        sid = placed["call_sid"]
        twilio_call = await rig.call_end(sid)
        record = await rig.ended_call(placed["call_ref"])
        conv = await rig.conversation_of(sid)
        await conv.wait_closed(2.0)
        stream = twilio_call.stream
        assert stream is not None and stream.ended_at is not None

        goodbye = conv.agent_turns[-1]
        assert [turn.text for turn in conv.agent_turns] == [GOODBYE]
        # The whole goodbye played before the gateway closed the stream.
        assert stream.played_s >= goodbye.duration_s - 0.001
        assert len(stream.played) >= goodbye.audio_bytes_sent
        last_played = stream.played_segments[-1][1]
        assert last_played <= stream.ended_at
        # ... and the line was hung up soon after (not by a timeout).
        assert stream.ended_at - last_played < 2.0
        assert stream.end_reason == "server-closed"
        assert twilio_call.end_reason == "hangup-verb"
        assert record["outcome"] == "completed"
        assert record["end_reason"] == "agent_ended"
        assert conv.closed_at is not None
        if via == "system":
            assert conv.closed_by == "server"
            assert conv.closed_at < last_played - 0.5, "the agent did not close early"
        else:
            assert conv.closed_by == "client"
            assert conv.tool_call("end_call") is not None


async def test_caller_hanging_up_closes_the_agent_at_once(tmp_path: Path) -> None:
    async with e2e(tmp_path) as rig:
        rig.callee(DEBTOR, caller())
        placed = await rig.place_call()
        sid = placed["call_sid"]
        stream = await rig.stream_of(sid)
        await poll_until(lambda: stream.played_s > 0.5, 5)  # mid-greeting
        conv = await rig.conversation_of(sid)
        assert not conv.closed.is_set()
        hung_up_at = time.monotonic()
        rig.twilio.hangup(sid)
        await conv.wait_closed(3.0)
        assert conv.closed_by == "client"
        assert conv.closed_at is not None and conv.closed_at - hung_up_at < 1.0
        record = await rig.ended_call(placed["call_ref"])
        assert record["outcome"] == "caller_hung_up"
        assert record["end_reason"] == "caller_hung_up"
        twilio_call = await rig.call_end(sid)
        assert stream.stop_sent and twilio_call.end_reason == "caller-hangup"
        await poll_until(lambda: stream.ended_at is not None, 3)
        assert stream.close_code == 1000  # closed with a close frame, not dropped (1006)


# --------------------------------------------------------------- answering machine


async def test_answering_machine_gets_the_voicemail_message_only(tmp_path: Path) -> None:
    async with e2e(tmp_path) as rig:
        rig.callee(DEBTOR, caller(), answered_by="machine_end_beep", amd_duration_ms=600)
        placed = await rig.place_call(
            account_id="ACC-77",
            variables={"debtor_first_name": "Ann", "org_name": "Acme", "balance": "987.65"},
        )
        sid = placed["call_sid"]
        twilio_call = await rig.call_end(sid)
        record = await rig.ended_call(placed["call_ref"])
        conv = await rig.conversation_of(sid)
        await conv.wait_closed(2.0)

        voicemail = rig.gw.settings.voicemail_message
        assert twilio_call.says == [voicemail]
        spoken = " ".join(twilio_call.says) + " ".join(str(u) for u in twilio_call.updates)
        for secret in ("987", "Ann", "ACC-77", "balance"):
            assert secret not in spoken
        assert record["outcome"] == "voicemail"
        assert record["answered_by"] == "machine_end_beep"
        assert conv.closed_by == "client"
        # The agent's greeting stopped for the machine.
        stream = twilio_call.stream
        assert stream is not None and stream.clears
        assert stream.played_s < conv.agent_turns[0].duration_s


# --------------------------------------------------------------------- transcoding


def _similarity(heard: np.ndarray, reference: np.ndarray) -> float:
    """Best normalised cross-correlation of ``reference`` inside ``heard``."""
    heard = heard.astype(np.float64)
    ref = reference.astype(np.float64)
    ref -= ref.mean()
    best = 0.0
    for lag in range(0, max(1, len(heard) - len(ref)) + 1, 4):
        window = heard[lag : lag + len(ref)]
        if len(window) < len(ref):
            break
        window = window - window.mean()
        denom = np.linalg.norm(window) * np.linalg.norm(ref)
        if denom:
            best = max(best, float(window @ ref / denom))
    return best


async def test_pcm_agent_is_transcoded_both_ways(tmp_path: Path) -> None:
    agent = script(Listen("Hello?"), EndCall(goodbye=GOODBYE))
    options = agent_options(audio_format="pcm_16000")
    async with e2e(tmp_path, options=options, agent_script=agent) as rig:
        rig.callee(DEBTOR, caller("Hello?", speak_first=True))
        placed = await rig.place_call(opening_mode="callee_first")
        sid = placed["call_sid"]
        twilio_call = await rig.call_end(sid)
        record = await rig.ended_call(placed["call_ref"])
        conv = await rig.conversation_of(sid)
        stream = twilio_call.stream
        assert stream is not None

        assert (conv.input_format, conv.output_format) == ("pcm_16000", "pcm_16000")
        # The agent heard the caller as 16 kHz PCM16 (32 kB/s; mu-law would be 8 kB/s).
        await conv.wait_closed(2.0)
        assert conv.first_audio_received_at is not None and conv.closed_at is not None
        listened_s = conv.closed_at - conv.first_audio_received_at
        rate = conv.audio_bytes_received / listened_s
        assert 0.75 * 32000 <= rate <= 1.25 * 32000, rate
        assert conv.user_turns_detected >= 1
        assert conv.user_transcripts == ["Hello?"]
        # The caller heard the agent's words, as mu-law at 8 kHz.
        goodbye = conv.agent_turns[-1]
        assert stream.played_s >= goodbye.duration_s - 0.05
        heard = mulaw.decode(bytes(stream.played))
        reference = synthesize(GOODBYE, voice="en", sample_rate=8000)
        assert _similarity(heard, reference[: 8000 * 1]) > 0.8
        assert record["outcome"] == "completed"


# ------------------------------------------------------------------------ live hub


async def test_live_feed_of_one_call_shows_it_in_order_and_nothing_else(
    tmp_path: Path,
) -> None:
    other = "+15550100002"
    async with e2e(tmp_path) as rig:
        rig.callee(DEBTOR, caller("Yes."), ring_s=0.5)
        rig.callee(other, caller("Yes."))
        async with rig.live(ORG_B_KEY) as org_b, rig.live() as org_a_all:
            placed = await rig.place_call()
            sid = placed["call_sid"]
            other_placed = await rig.place_call(other)
            other_sid = other_placed["call_sid"]
            async with rig.live(call_sid=sid) as one, rig.live(ORG_B_KEY, call_sid=sid) as b_one:
                await rig.call_end(sid)
                await rig.call_end(other_sid)
                await one.wait_for("call.ended", 5)
                await poll_until(lambda: org_a_all.types(other_sid).count("call.ended") == 1, 5)
                await asyncio.sleep(0.2)  # anything stray would have arrived by now

        assert {e["call_sid"] for e in one.events} == {sid}
        kinds = one.types()
        expected = ["stream.started", "agent", "caller", "tool_call", "tool_result", "call.ended"]
        positions = [kinds.index(kind) for kind in expected]
        assert positions == sorted(positions), kinds
        assert kinds.count("call.ended") == 1
        # Only Twilio's own status callbacks may follow the end of the call.
        assert set(kinds[kinds.index("call.ended") + 1 :]) <= {"call.status"}
        seqs = [e["seq"] for e in one.events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        agent_lines = [e["data"]["text"] for e in one.of_type("agent")]
        assert agent_lines == [GREETING, "Goodbye."]
        assert one.of_type("tool_call")[0]["data"]["name"] == "end_call"
        assert one.of_type("call.ended")[0]["data"]["outcome"] == "completed"
        # The other call was live at the same time, and only its own feed saw it.
        assert "stream.started" in org_a_all.types(other_sid)
        assert org_b.events == [] and b_one.events == []
