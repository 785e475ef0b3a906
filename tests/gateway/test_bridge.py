"""gateway.bridge: the per-call rules, driven like a call and checked on the wire.

Each test reads as a transcript: what Twilio and the agent send, when (the clock is
explicit), and what the bridge sends back and asks its pump to do.
"""

import base64
import itertools
import json
import math
from collections.abc import Callable

import numpy as np
import pytest

from gateway import twilio_events as te
from gateway.bridge import MACHINE_VERDICTS, BridgeTimings, Phase
from gateway.effects import (
    CloseAgent,
    Finished,
    HangUp,
    Publish,
    ReconnectAgent,
    RunTool,
    SayAndHangUp,
)
from media import mulaw
from media.recording import CallRecording
from tests.gateway.bridge_helpers import (
    APOLOGY_MESSAGE,
    CONVERSATION_ID,
    FRAME_BYTES,
    STREAM_SID,
    VOICEMAIL_MESSAGE,
    Call,
    Sent,
    agent_audio,
    agent_error,
    agent_interruption,
    agent_metadata,
    agent_ping,
    agent_response,
    agent_response_correction,
    agent_tool_response,
    b64,
    client_tool_call,
    tag_of,
    tagged,
    twilio_dtmf,
    twilio_media,
    twilio_start,
    twilio_stop,
    user_transcript,
    vad_score,
)


def tags(first: int, count: int) -> list[int]:
    return list(range(first, first + count))


def call_start_text() -> str:
    return twilio_start(1)


def pong(event_id: int) -> dict[str, object]:
    return {"type": "pong", "event_id": event_id}


def user_audio_tags(step: Sent) -> list[int]:
    return [tag_of(base64.b64decode(text)) for text in step.user_audio]


# ================================================================ opening
def test_caller_audio_before_the_agent_is_ready_is_queued_then_sent_in_order() -> None:
    call = Call()
    call.connected()
    call.start()
    for tag in (1, 2, 3):
        assert call.caller_frame(tagged(tag)).agent == []
    step = call.agent_ready()
    assert user_audio_tags(step) == [1, 2, 3]
    assert step.published("agent.ready") == [{"conversation_id": CONVERSATION_ID}]
    assert user_audio_tags(call.caller_frame(tagged(4))) == [4]
    assert call.bridge.frames_to_agent == 4
    assert call.bridge.caller_frames_dropped == 0


def test_the_queue_of_early_caller_audio_is_bounded_dropping_the_oldest() -> None:
    call = Call(timings=BridgeTimings(max_pending_caller_frames=4))
    call.connected()
    call.start()
    for tag in tags(1, 7):
        call.caller_frame(tagged(tag))
    assert call.bridge.caller_frames_dropped == 3
    assert user_audio_tags(call.agent_ready()) == [4, 5, 6, 7]


def test_pass_through_sends_the_very_text_twilio_sent() -> None:
    call = Call()
    call.live()
    audio = bytes(range(96, 256))  # 160 bytes, not one repeated byte
    text = twilio_media(b64(audio), seq=9, chunk=1, timestamp_ms=0)
    step = call.twilio(text)
    assert step.agent == [{"user_audio_chunk": json.loads(text)["media"]["payload"]}]
    assert step.user_audio == [b64(audio)]


def test_pcm_16000_both_ways() -> None:
    call = Call()
    call.live(input_format="pcm_16000", output_format="pcm_16000")

    # Caller: 1 s of a 400 Hz tone in 20 ms mu-law frames -> 16 kHz PCM for the agent.
    t = np.arange(8000) / 8000
    caller = mulaw.encode((8000 * np.sin(2 * math.pi * 400 * t)).astype(np.int16))
    chunks: list[bytes] = []
    for i in range(0, 8000, FRAME_BYTES):
        chunks += [
            base64.b64decode(c) for c in call.caller_frame(caller[i : i + FRAME_BYTES]).user_audio
        ]
        call.advance(0.02)
    pcm = np.frombuffer(b"".join(chunks), dtype="<i2")
    assert 16000 - 61 * 16 <= len(pcm) <= 16000

    # Agent: 200 ms of 16 kHz PCM, in chunks of odd sizes -> 10 frames of 160 mu-law bytes.
    t16 = np.arange(3200) / 16000
    agent = (8000 * np.sin(2 * math.pi * 1000 * t16)).astype("<i2").tobytes()
    for start, end in ((0, 1001), (1001, 4800), (4800, 6400)):
        call.agent(agent_audio(b64(agent[start:end]), event_id=1))
    call.tool_finished("tc_end", "bye", end_call=True)
    call.run_for(5.0)
    assert call.bridge.ended
    assert all(len(frame) == FRAME_BYTES for frame in call.sent.media)
    assert len(call.sent.media) == 10


def test_agent_audio_before_twilio_start_is_held_and_goes_out_with_start() -> None:
    call = Call()
    call.agent_ready()
    held = call.agent_says(*tags(1, 3), event_id=1)
    assert held.twilio == []
    assert call.connected().twilio == []
    step = call.start()
    assert step.twilio_events == ["media", "media", "media", "mark"]
    assert step.media_tags == [1, 2, 3]
    assert all(msg["streamSid"] == STREAM_SID for msg in step.twilio)


def test_a_long_greeting_before_start_is_paced_from_start() -> None:
    call = Call()
    call.agent_ready()
    call.agent_says(*tags(1, 50), event_id=1)
    step = call.start()
    assert step.media_tags == tags(1, 12)  # the lead, not the whole greeting
    assert call.bridge.playout.queued_frames == 38


def test_start_fed_as_a_twilio_event_starts_the_stream() -> None:
    call = Call()
    call.agent_ready()
    call.agent_says(1, event_id=1)
    start = te.parse(call_start_text())
    call.bridge.twilio_event(start, call.now)
    assert call.bridge.phase is Phase.LIVE
    assert call.bridge.stream_sid == STREAM_SID
    assert len(call.bridge.take_twilio()) == 2  # the held frame and its mark


# ================================================================ ping
def test_ping_is_answered_at_once_with_the_same_event_id() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 40), event_id=1)  # frames waiting in the playout
    call.agent(client_tool_call("lookup_balance", "tc_1", {}, 2))
    step = call.agent(agent_ping(77, 120))
    assert step.agent == [pong(77)]
    assert step.twilio == []
    assert step.effects == []


def test_ping_is_answered_before_anything_else_has_happened() -> None:
    call = Call()
    assert call.agent(agent_ping(1)).agent == [pong(1)]


# ================================================================ barge-in
def test_interruption_clears_twilio_and_drops_queued_and_late_audio() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 40), event_id=3)
    assert call.bridge.playout.queued_frames == 28

    step = call.agent(agent_interruption(3))
    assert step.twilio == [{"event": "clear", "streamSid": STREAM_SID}]
    assert call.bridge.playout.queued_frames == 0
    assert step.published("interruption") == [{"event_id": 3, "heard_s": 0.0}]

    late = call.agent_says(41, 42, event_id=3)  # the rest of the interrupted turn
    assert late.twilio == []
    assert call.bridge.stale_audio_dropped == 1
    earlier = call.agent_says(43, event_id=2)
    assert earlier.twilio == []
    assert call.bridge.stale_audio_dropped == 2

    step = call.agent_says(50, 51, event_id=4)  # the next turn plays
    assert step.media_tags == [50, 51]
    assert call.sent.media_tags == [*tags(1, 12), 50, 51]


def test_interruption_keeps_frames_of_a_later_response() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 20), event_id=3)
    call.agent_says(*tags(30, 5), event_id=5)
    call.agent(agent_interruption(4))
    assert call.bridge.playout.queued_frames == 5
    call.run_for(1.0)
    assert call.sent.media_tags == [*tags(1, 12), *tags(30, 5)]


def test_a_partial_frame_of_an_interrupted_turn_is_not_played() -> None:
    call = Call()
    call.live()
    call.agent(agent_audio(b64(tagged(1) + b"\x05" * 80), event_id=1))
    call.agent(agent_interruption(1))
    step = call.agent(agent_audio(b64(b"\x06" * 80 + tagged(7)), event_id=2))
    assert [frame[:80] for frame in step.media] == [b"\x06" * 80]
    assert call.sent.media[0] == tagged(1)


def test_marks_echoed_after_a_clear_are_not_heard() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 30), event_id=3)  # 12 frames out, mark 0:1
    call.advance(0.24)
    call.echo_due_marks()  # 0:1 has played
    assert call.bridge.playout.heard_s == pytest.approx(0.24)
    call.tick()  # top-up: 12 more frames, mark 0:2
    assert call.pending_marks == ["0:2"]

    call.agent(agent_interruption(3))
    call.echo_all_marks()  # Twilio echoes 0:2 because of the clear
    assert call.bridge.playout.heard_s == pytest.approx(0.24)

    call.agent_says(40, 41, event_id=4)
    assert call.pending_marks == ["1:3"]
    call.advance(0.04)
    call.echo_due_marks()
    assert call.bridge.playout.heard_s == pytest.approx(0.28)
    assert call.bridge.playout.last_heard_response == 4


def test_a_mark_of_another_stream_is_ignored() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 5), event_id=1)
    call.mark("0:1", stream_sid="MZ" + "0" * 32)
    assert call.bridge.playout.heard_s == 0.0
    call.mark("0:1")
    assert call.bridge.playout.heard_s == pytest.approx(0.10)


def test_pacing_through_the_bridge_keeps_a_small_lead_at_twilio() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 100), event_id=1)
    for _ in range(150):
        call.advance(0.02)
        call.caller_frame()
        call.echo_due_marks()
        assert call.outstanding_s <= 0.24 + 1e-9
    assert call.sent.media_tags == tags(1, 100)
    events = call.sent.twilio_events
    assert events[-1] == "mark"
    assert "mark,mark" not in ",".join(events)  # one mark per batch, after its frames


# ================================================================ tools
def test_a_client_tool_call_runs_once_even_if_repeated() -> None:
    call = Call()
    call.live()
    first = call.agent(client_tool_call("record_promise", "tc_9", {"amount": 50}, 3))
    assert first.of(RunTool) == [RunTool("tc_9", "record_promise", {"amount": 50})]
    assert first.published("tool_call") == [
        {"tool_call_id": "tc_9", "name": "record_promise", "parameters": {"amount": 50}}
    ]
    again = call.agent(client_tool_call("record_promise", "tc_9", {"amount": 50}, 3))
    assert again.effects == []
    other = call.agent(client_tool_call("record_promise", "tc_10", {"amount": 60}, 4))
    assert len(other.of(RunTool)) == 1


def test_a_tool_result_goes_to_the_agent_even_mid_barge_in() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 30), event_id=3)
    call.agent(client_tool_call("record_promise", "tc_9", {}, 3))
    call.agent(agent_interruption(3))
    step = call.tool_finished("tc_9", '{"ok":true}')
    assert step.agent == [
        {
            "type": "client_tool_result",
            "tool_call_id": "tc_9",
            "result": '{"ok":true}',
            "is_error": False,
        }
    ]
    assert step.published("tool_result") == [
        {"tool_call_id": "tc_9", "result": '{"ok":true}', "is_error": False}
    ]
    error = call.tool_finished("tc_10", "no such account", is_error=True)
    assert error.agent[0]["is_error"] is True


# ================================================================ DTMF
def test_dtmf_tells_the_agent_and_the_supervisors() -> None:
    call = Call()
    call.live()
    step = call.dtmf("1")
    assert step.agent_types == ["contextual_update"]
    assert "1" in step.agent[0]["text"]
    assert step.published("dtmf") == [{"digit": "1"}]


def test_keys_and_stop_naming_another_stream_change_nothing() -> None:
    call = Call()
    call.live()
    other = "MZ" + "0" * 32
    assert other != STREAM_SID
    assert call.twilio(twilio_dtmf("9", seq=90, stream_sid=other)).empty
    assert call.twilio(twilio_stop(seq=91, stream_sid=other)).empty
    assert call.bridge.phase is Phase.LIVE
    assert call.bridge.protocol_errors == 2


def test_dtmf_before_the_agent_is_ready_is_only_published() -> None:
    call = Call()
    call.start()
    step = call.dtmf("#")
    assert step.agent == []
    assert step.published("dtmf") == [{"digit": "#"}]


# ================================================================ end of call
def goodbye(call: Call, frames: int, event_id: int = 7) -> None:
    call.agent(agent_response("Thank you, goodbye.", event_id))
    call.agent_says(*[1 + n % 200 for n in range(frames)], event_id=event_id)


def test_end_call_waits_until_the_last_words_have_played() -> None:
    call = Call()
    call.live()
    goodbye(call, 50)  # one second of speech
    begin = call.now
    step = call.tool_finished("tc_end", "The call will end.", end_call=True)
    assert step.agent_types == ["client_tool_result"]
    assert step.of(HangUp) == []
    assert call.bridge.phase is Phase.ENDING

    call.run_for(0.95)
    assert call.sent.of(HangUp) == []
    call.run_for(5.0)
    assert call.bridge.ended
    assert call.pending_marks == []  # every mark came back before the hang-up
    assert call.now == pytest.approx(begin + 1.0, abs=0.021)
    assert len(call.sent.media) == 50
    assert call.sent.of(HangUp) == [HangUp("agent_ended")]
    assert call.sent.of(Finished) == [Finished("agent_ended", "completed")]


def test_end_call_waits_for_the_grace_after_short_last_words() -> None:
    call = Call()
    call.live()
    goodbye(call, 5)
    begin = call.now
    call.tool_finished("tc_end", "ok", end_call=True)
    call.run_for(5.0)
    assert call.now == pytest.approx(begin + BridgeTimings().end_grace_s, abs=0.021)
    assert len(call.sent.of(HangUp)) == 1


def test_end_call_waits_while_the_agent_is_still_talking() -> None:
    call = Call()
    call.live()
    call.tool_finished("tc_end", "ok", end_call=True)  # the goodbye comes after
    for _ in range(5):
        call.run_for(0.2)
        call.agent_says(*tags(1, 10), event_id=8)
    last_audio = call.now
    call.run_for(10.0)
    assert call.bridge.ended
    assert call.now >= last_audio + BridgeTimings().end_grace_s
    assert len(call.sent.media) == 50
    assert len(call.sent.of(HangUp)) == 1


def test_end_call_hangs_up_at_the_max_wait_when_marks_never_come() -> None:
    call = Call(timings=BridgeTimings(end_max_wait_s=2.0))
    call.live()
    goodbye(call, 250)  # five seconds of speech
    begin = call.now
    call.tool_finished("tc_end", "ok", end_call=True)
    call.run_for(30.0, echo_marks=False)
    assert call.now == pytest.approx(begin + 2.0)
    assert call.sent.of(HangUp) == [HangUp("agent_ended")]
    assert len(call.sent.of(Finished)) == 1


def test_without_mark_echoes_the_clock_ends_the_wait() -> None:
    call = Call()
    call.live()
    goodbye(call, 5)  # plays until begin + 0.1
    begin = call.now
    call.tool_finished("tc_end", "ok", end_call=True)
    call.run_for(30.0, echo_marks=False)
    assert call.now == pytest.approx(begin + 0.1 + 1.0, abs=0.021)
    assert len(call.sent.of(HangUp)) == 1


def test_the_deadline_is_never_in_the_past_while_marks_are_late() -> None:
    """Past the grace, with marks overdue, the pump's timer must not spin."""
    call = Call()
    call.live()
    goodbye(call, 12)
    call.tool_finished("tc_end", "ok", end_call=True)
    call.advance(0.8)  # grace over; the marks are due but Twilio is slow
    call.tick()
    deadline = call.bridge.next_deadline()
    assert deadline is not None
    assert deadline > call.now
    assert not call.bridge.ended


def test_agent_tool_response_end_call_also_ends_the_call() -> None:
    call = Call()
    call.live()
    goodbye(call, 10)
    step = call.agent(agent_tool_response("end_call"))
    assert step.published("agent_tool") == [
        {"name": "end_call", "type": "system", "is_error": False}
    ]
    assert call.bridge.phase is Phase.ENDING
    call.run_for(5.0)
    assert call.sent.of(HangUp) == [HangUp("agent_ended")]
    assert call.sent.of(Finished) == [Finished("agent_ended", "completed")]


def test_a_failed_end_call_does_not_end_the_call() -> None:
    call = Call()
    call.live()
    call.agent(agent_tool_response("end_call", is_error=True))
    call.tool_finished("tc_end", "failed", is_error=True, end_call=True)
    call.run_for(3.0)
    assert call.bridge.phase is Phase.LIVE


def test_a_normal_agent_close_lets_the_last_words_play_then_hangs_up() -> None:
    call = Call()
    call.live()
    goodbye(call, 30)
    step = call.agent_closed(1000)
    assert step.effects == []
    assert call.bridge.phase is Phase.ENDING
    call.run_for(10.0)
    assert len(call.sent.media) == 30
    assert call.sent.of(HangUp) == [HangUp("agent_ended")]
    assert call.sent.of(Finished) == [Finished("agent_ended", "completed")]


def test_the_caller_hanging_up_closes_the_agent_at_once() -> None:
    call = Call()
    call.live()
    goodbye(call, 30)
    step = call.stop()
    assert step.of(HangUp) == []
    assert step.of(CloseAgent) == [CloseAgent("caller_hung_up")]
    assert step.of(Finished) == [Finished("caller_hung_up", "caller_hung_up")]
    assert step.published("call.ended") == [
        {"reason": "caller_hung_up", "outcome": "caller_hung_up"}
    ]
    assert call.twilio_closed().empty
    assert call.bridge.next_deadline() is None


def test_the_media_socket_closing_without_stop_ends_the_call_too() -> None:
    call = Call()
    call.live()
    step = call.twilio_closed()
    assert step.of(Finished) == [Finished("caller_hung_up", "caller_hung_up")]


def test_an_operator_can_hang_up() -> None:
    call = Call()
    call.live()
    step = call.hang_up("supervisor")
    assert step.of(HangUp) == [HangUp("supervisor")]
    assert step.of(Finished) == [Finished("supervisor", "supervisor")]


# ================================================================ agent failures
def test_an_abnormal_agent_close_reconnects_with_the_conversation_so_far() -> None:
    call = Call()
    call.live()
    call.agent(agent_response("Hello Ann, this is Acme.", 1))
    call.agent(user_transcript("I can pay on Friday", 2))
    step = call.agent_closed(1011)
    (reconnect,) = step.of(ReconnectAgent)
    assert "agent: Hello Ann, this is Acme." in reconnect.context
    assert "caller: I can pay on Friday" in reconnect.context
    assert "Do not greet" in reconnect.context
    assert step.published("agent_reconnecting") == [{"close_code": 1011}]
    assert step.of(Finished) == []

    # While the new session opens, the caller's audio waits for it.
    for tag in (1, 2):
        assert call.caller_frame(tagged(tag)).agent == []
    assert user_audio_tags(call.agent(agent_metadata(conversation_id="conv_2"))) == [1, 2]
    assert call.bridge.conversation_id == "conv_2"


def test_a_reconnected_agent_numbers_its_events_afresh() -> None:
    call = Call()
    call.live()
    call.agent(agent_interruption(9))
    call.agent_closed(1006)
    call.agent(agent_metadata(conversation_id="conv_2"))
    assert call.agent_says(7, event_id=1).media_tags == [7]


def test_the_new_conversation_can_interrupt_what_the_old_one_left_queued() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 30), event_id=12)
    call.agent_closed(None)  # no close frame at all
    call.agent(agent_metadata(conversation_id="conv_2"))
    call.agent(agent_interruption(2))
    assert call.bridge.playout.queued_frames == 0


def test_a_second_abnormal_close_apologises_and_hangs_up_on_twilio_stop() -> None:
    call = Call()
    call.live()
    call.agent_closed(1006)
    call.agent_ready()
    step = call.agent_closed(1002)
    assert step.effects == [
        CloseAgent("agent_failed"),
        SayAndHangUp(APOLOGY_MESSAGE, "agent_failed"),
    ]
    assert call.bridge.phase is Phase.HANDED_OFF
    step = call.stop()  # Twilio ends the stream when the TwiML is replaced
    assert step.of(HangUp) == []
    assert step.of(Finished) == [Finished("agent_failed", "agent_failed")]


def test_after_the_apology_the_call_is_hung_up_if_twilio_never_stops() -> None:
    call = Call(timings=BridgeTimings(handoff_wait_s=5.0))
    call.live()
    call.agent_closed(1006)
    begin = call.now
    call.agent_closed(1006)
    assert call.bridge.next_deadline() == pytest.approx(begin + 5.0)
    call.advance(4.9)
    assert call.tick().empty
    call.run_for(1.0, caller_speaks=False)
    assert call.now == pytest.approx(begin + 5.0)
    assert call.sent.of(HangUp) == [HangUp("agent_failed")]
    assert call.sent.of(Finished) == [Finished("agent_failed", "agent_failed")]


def test_an_answering_machine_verdict_after_the_apology_changes_nothing() -> None:
    call = Call()
    call.live()
    call.agent_closed(1006)
    call.agent_closed(1006)
    step = call.answered_by("machine_start")
    assert step.effects == [Publish("amd", {"answered_by": "machine_start"})]
    assert call.bridge.outcome == "agent_failed"


def test_a_failed_reconnect_apologises() -> None:
    call = Call()
    call.live()
    call.agent_closed(1006)
    call.bridge.agent_reconnect_failed(call.now)
    assert call.bridge.take_effects()[-1] == SayAndHangUp(APOLOGY_MESSAGE, "agent_failed")


@pytest.mark.parametrize(
    ("input_format", "output_format"),
    [("ulaw_8000", "mp3_44100"), ("opus_48000", "ulaw_8000"), ("pcm_16000", "pcm_²")],
)
def test_an_agent_format_the_bridge_cannot_carry_apologises(
    input_format: str, output_format: str
) -> None:
    call = Call()
    call.connected()
    call.start()
    step = call.agent_ready(input_format=input_format, output_format=output_format)
    (error,) = step.published("agent_error")
    assert error["code"] == "audio_format"
    assert step.of(CloseAgent) == [CloseAgent("agent_failed")]
    assert step.of(SayAndHangUp) == [SayAndHangUp(APOLOGY_MESSAGE, "agent_failed")]
    assert call.caller_frame().agent == []
    assert not call.bridge.agent_ready


# ================================================================ answering machine
@pytest.mark.parametrize("verdict", sorted(MACHINE_VERDICTS))
def test_a_machine_gets_the_voicemail_message(verdict: str) -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 40), event_id=1)
    step = call.answered_by(verdict)
    assert step.twilio == [{"event": "clear", "streamSid": STREAM_SID}]
    assert step.effects == [
        Publish("amd", {"answered_by": verdict}),
        CloseAgent("voicemail"),
        SayAndHangUp(VOICEMAIL_MESSAGE, "voicemail"),
    ]
    assert call.bridge.outcome == "voicemail"
    assert call.bridge.playout.queued_frames == 0
    assert call.agent_says(*tags(50, 5), event_id=99).twilio == []
    assert call.stop().of(Finished) == [Finished("voicemail", "voicemail")]


def test_a_human_changes_nothing() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 40), event_id=1)
    step = call.answered_by("human")
    assert step.twilio == []
    assert step.agent == []
    assert step.effects == [Publish("amd", {"answered_by": "human"})]
    assert call.bridge.phase is Phase.LIVE
    assert call.bridge.playout.queued_frames == 28


def test_a_fax_is_hung_up_on() -> None:
    call = Call()
    call.live()
    step = call.answered_by("fax")
    assert step.of(HangUp) == [HangUp("fax")]
    assert step.of(Finished) == [Finished("fax", "fax")]


# ================================================================ bad input
def test_media_of_another_stream_is_counted_and_ignored() -> None:
    call = Call()
    call.live()
    step = call.caller_frame(stream_sid="MZ" + "f" * 32)
    assert step.empty
    assert call.bridge.protocol_errors == 1
    assert call.bridge.frames_in == 0


def test_media_that_is_not_base64_is_counted_and_ignored() -> None:
    call = Call()
    call.live()
    step = call.twilio(twilio_media('AA"}', seq=9, chunk=1, timestamp_ms=0))
    assert step.empty
    assert call.bridge.protocol_errors == 1


@pytest.mark.parametrize("payload", ["AAA", "AA=A", "A"])
def test_undecodable_media_is_counted_when_transcoding(payload: str) -> None:
    call = Call()
    call.live(input_format="pcm_16000")
    call.bridge.twilio_event(te.Media(STREAM_SID, payload, 0), call.now)
    assert call.bridge.take_agent() == []
    assert call.bridge.protocol_errors == 1
    # The next frames go on (the first ones only fill the resampler's delay line).
    sent = [t for _ in range(10) for t in call.caller_frame().agent_types]
    assert sent
    assert set(sent) == {"user_audio_chunk"}
    assert call.bridge.frames_to_agent == len(sent)


def test_undecodable_media_queued_before_the_agent_is_counted() -> None:
    call = Call()
    call.start()
    call.bridge.twilio_event(te.Media(STREAM_SID, "AAA", 0), call.now)
    call.caller_frame()
    call.agent_ready(input_format="pcm_8000")
    assert call.bridge.protocol_errors == 1
    assert call.bridge.frames_to_agent == 1


def test_undecodable_media_is_counted_when_recording() -> None:
    call = Call(recording=CallRecording())
    call.live()
    call.bridge.twilio_event(te.Media(STREAM_SID, "AAA", 0), call.now)
    assert call.bridge.take_agent() == []
    assert call.bridge.protocol_errors == 1


def test_agent_audio_that_is_not_base64_is_counted_and_ignored() -> None:
    call = Call()
    call.live()
    step = call.agent(agent_audio("%%%%", 1))
    assert step.empty
    assert call.bridge.protocol_errors == 1


def test_agent_audio_before_its_metadata_is_counted() -> None:
    call = Call()
    call.start()
    assert call.agent_says(1, event_id=1).empty
    assert call.bridge.protocol_errors == 1


def test_a_second_start_is_counted_and_ignored() -> None:
    call = Call()
    call.live()
    assert call.start(stream_sid="MZ" + "1" * 32).empty
    assert call.bridge.stream_sid == STREAM_SID
    assert call.bridge.protocol_errors == 1


def test_a_frame_that_does_not_parse_is_counted_like_the_pump_does() -> None:
    call = Call()
    call.live()
    assert call.twilio('{"event":"media"').empty
    assert call.agent("{").empty
    assert call.bridge.protocol_errors == 2


# ================================================================ transcript
def test_the_transcript_and_its_live_events() -> None:
    call = Call()
    call.live()
    call.agent(agent_response("Hello Ann, can we talk about your balance?", 1))
    tentative = call.agent(user_transcript("Yes I", 2, tentative=True))
    assert tentative.published("caller_tentative") == [{"text": "Yes I"}]
    call.agent(user_transcript("Yes I can", 2))
    step = call.agent(
        agent_response_correction("Hello Ann, can we talk about your balance?", "Hello Ann,", 1)
    )
    assert step.published("agent_correction")[0]["corrected"] == "Hello Ann,"
    assert call.bridge.transcript == [("agent", "Hello Ann,"), ("caller", "Yes I can")]
    assert call.agent(vad_score(0.9)).empty
    errors = call.agent(agent_error("llm_timeout", "late")).published("agent_error")
    assert errors == [{"code": "llm_timeout", "message": "late"}]


def test_recording_gets_both_sides() -> None:
    recording = CallRecording()
    call = Call(recording=recording)
    call.agent_ready()
    call.agent_says(*tags(1, 10), event_id=1)  # before start: at the start of the timeline
    call.start()
    call.run_for(0.5)
    assert recording.duration_ms >= 480
    agent = recording.render()[:, 1]
    assert np.count_nonzero(agent[:1600]) > 1500  # the greeting plays from 0 ms


def test_recording_drops_what_a_barge_in_cut() -> None:
    recording = CallRecording()
    call = Call(recording=recording)
    call.live()
    call.agent_says(*tags(1, 100), event_id=1)  # two seconds, sent faster than real time
    call.run_for(0.3)
    call.agent(agent_interruption(1))
    call.run_for(0.2)
    agent = recording.render()[:, 1]
    heard_until = int(np.flatnonzero(agent)[-1])
    assert 2000 < heard_until < 2400  # cut at 300 ms (2400 samples), not 2 s later


def test_frames_read_by_their_layout_and_parsed_frames_make_the_same_call() -> None:
    """The pump's two ways in for caller audio: same frames out, same recording."""

    def scripted(media_layout: bool) -> tuple[Call, CallRecording]:
        recording = CallRecording()
        call = Call(recording=recording, media_layout=media_layout)
        call.live()
        call.agent_says(*tags(1, 40), event_id=1)
        call.run_for(0.3)
        call.caller_frame(stream_sid="MZ" + "f" * 32)  # another stream's: refused
        call.agent(agent_interruption(1))
        call.agent_says(*tags(41, 60), event_id=2)
        call.run_for(0.5)
        call.stop()
        return call, recording

    (fast, fast_recording), (parsed, parsed_recording) = scripted(True), scripted(False)
    assert fast.sent == parsed.sent
    assert fast.bridge.frames_in == parsed.bridge.frames_in > 20
    assert fast.bridge.protocol_errors == parsed.bridge.protocol_errors == 1
    assert np.array_equal(fast_recording.render(), parsed_recording.render())


# ================================================================ the end is the end
def test_nothing_happens_after_the_end() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 40), event_id=1)
    call.stop()
    inputs: list[Callable[[], Sent]] = [
        lambda: call.caller_frame(),
        lambda: call.mark("0:1"),
        lambda: call.dtmf("5"),
        lambda: call.stop(),
        lambda: call.twilio_closed(),
        lambda: call.agent(agent_ping(5)),
        lambda: call.agent_says(1, event_id=2),
        lambda: call.agent(agent_interruption(2)),
        lambda: call.agent(client_tool_call("record_promise", "tc_1", {}, 3)),
        lambda: call.agent(agent_response("Hello?", 4)),
        lambda: call.agent(agent_tool_response("end_call")),
        lambda: call.agent(agent_metadata(conversation_id="conv_2")),
        lambda: call.agent_closed(1006),
        lambda: call.tool_finished("tc_1", "ok", end_call=True),
        lambda: call.answered_by("machine_start"),
        lambda: call.hang_up("supervisor"),
        lambda: call.tick(),
    ]
    for feed in inputs:
        call.advance(1.0)
        assert feed().empty
    assert call.bridge.next_deadline() is None
    assert call.sent.of(Finished) == [Finished("caller_hung_up", "caller_hung_up")]


ENDINGS: dict[str, Callable[[Call], object]] = {
    "stop": lambda c: c.stop(),
    "socket_closed": lambda c: c.twilio_closed(),
    "agent_closed_1000": lambda c: c.agent_closed(1000),
    "agent_closed_1006": lambda c: c.agent_closed(1006),
    "operator_hang_up": lambda c: c.hang_up("supervisor"),
    "end_call": lambda c: c.tool_finished("tc_end", "ok", end_call=True),
    "voicemail": lambda c: c.answered_by("machine_end_beep"),
    "time_passes": lambda c: c.run_for(20.0, caller_speaks=False),
}


@pytest.mark.parametrize("order", list(itertools.permutations(ENDINGS, 3)), ids="-".join)
def test_finished_is_emitted_exactly_once_whatever_the_order(order: tuple[str, ...]) -> None:
    call = Call()
    call.live()
    goodbye(call, 20)
    for name in order:
        ENDINGS[name](call)
        call.advance(0.1)
    call.run_for(30.0, caller_speaks=False)
    call.twilio_closed()  # the pump always reports the socket's end
    effects = call.sent.effects
    assert call.sent.of(Finished) and len(call.sent.of(Finished)) == 1
    assert isinstance(effects[-1], Finished), "nothing may follow Finished"
    assert len(call.sent.of(HangUp)) <= 1
    assert call.sent.of(CloseAgent)
    assert call.bridge.ended


def test_last_words_arriving_after_end_call_are_not_padded_midway() -> None:
    """The partial frame is padded once, at the very end, not at every check."""
    call = Call()
    call.live()
    speech = bytes(range(1, 251)) * 4  # 1000 bytes, sent in chunks of 100
    call.tool_finished("tc_end", "ok", end_call=True)
    for start in range(0, len(speech), 100):
        call.agent(agent_audio(b64(speech[start : start + 100]), event_id=8))
        call.run_for(0.05)
    call.run_for(10.0)
    played = b"".join(call.sent.media)
    assert played == speech + b"\xff" * (7 * FRAME_BYTES - len(speech))
    assert len(call.sent.of(HangUp)) == 1


def test_a_partial_frame_plays_when_the_agent_pauses() -> None:
    """A response whose audio is not a whole number of 20 ms frames is not cut short."""
    call = Call()
    call.live()
    chunk = tagged(1) + bytes([0x33]) * 90  # 250 bytes: one frame and 90 bytes over
    sent = call.agent(agent_audio(b64(chunk), 1))
    assert len(sent.media) == 1
    later = call.run_for(0.3, caller_speaks=False)
    assert len(later.media) == 1
    tail = later.media[0]
    assert tail[:90] == bytes([0x33]) * 90
    assert tail[90:] == bytes([0xFF]) * 70  # padded with mu-law silence


def test_a_new_response_plays_after_the_tail_of_the_previous_one() -> None:
    call = Call()
    call.live()
    first = tagged(1) + bytes([0x44]) * 40
    second = tagged(2)
    call.agent(agent_audio(b64(first), 1))
    sent = call.agent(agent_audio(b64(second), 2))
    sent.extend(call.run_for(0.2, caller_speaks=False))
    frames = sent.media
    assert frames[0][:40] == bytes([0x44]) * 40  # the old tail first, padded
    assert tag_of(frames[1]) == 2


def test_barge_in_reports_what_was_heard_of_the_interrupted_response() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 12), event_id=1)  # 0.24 s, all heard
    call.run_for(0.5, caller_speaks=False)
    call.agent_says(*tags(20, 40), event_id=2)  # 0.8 s; 0.24 s of it heard below
    call.advance(0.24)
    call.echo_due_marks()
    step = call.agent(agent_interruption(2))
    assert step.published("interruption") == [{"event_id": 2, "heard_s": pytest.approx(0.24)}]


# ============================================================ current speaker
def test_the_speaker_follows_the_conversation_and_is_published_on_changes_only() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 10), event_id=1)
    call.agent_says(*tags(11, 10), event_id=1)  # more of the same turn: no new event
    assert call.sent.published("speaker") == [{"speaker": "agent"}]
    call.run_for(0.2)
    assert call.bridge.speaker == "agent"  # Twilio still holds some of the turn
    call.run_for(1.0)  # every mark echoed: the caller has heard it all
    assert call.bridge.speaker == ""
    call.agent(user_transcript("Yes", 2, tentative=True))
    call.agent(user_transcript("Yes it's me", 2, tentative=True))
    assert call.bridge.speaker == "caller"
    call.agent(user_transcript("Yes it's me", 2))
    assert [e["speaker"] for e in call.sent.published("speaker")] == ["agent", "", "caller", ""]


def test_a_barge_in_makes_the_caller_the_speaker() -> None:
    call = Call()
    call.live()
    call.agent_says(*tags(1, 40), event_id=3)
    call.run_for(0.1)
    step = call.agent(agent_interruption(3))
    assert step.published("speaker") == [{"speaker": "caller"}]
    call.agent_says(41, event_id=3)  # late audio of the cut turn changes nothing
    call.run_for(0.5)
    assert call.bridge.speaker == "caller"
    call.agent_says(50, event_id=4)
    assert call.bridge.speaker == "agent"


def test_caller_frames_publish_nothing() -> None:
    call = Call()
    call.live()
    step = call.run_for(1.0)
    assert step.of(Publish) == []


# ========================================================= supervisor transfer
def test_a_supervisor_transfer_tells_the_agent_and_hands_off_after_its_words() -> None:
    from gateway.effects import WarmTransfer

    call = Call()
    call.live()
    call.agent_says(*tags(1, 30), event_id=1)
    call.run_for(0.1)
    call.bridge.request_transfer(
        "+34600000009", "Supervisor takes over.", call.now, tell_agent="A supervisor takes over."
    )
    call.tick()
    updates = [m for m in call.sent.agent if m.get("type") == "contextual_update"]
    assert updates == [{"type": "contextual_update", "text": "A supervisor takes over."}]
    assert call.sent.published("transfer") == [{"number": "+34600000009"}]
    assert call.sent.of(WarmTransfer) == []  # the agent's line is still playing
    call.run_for(2.0)
    assert call.sent.of(WarmTransfer) == [WarmTransfer("+34600000009", "Supervisor takes over.")]
    assert call.sent.media_tags == tags(1, 30)  # the line was heard to its end
    assert call.bridge.outcome == "transferred"
