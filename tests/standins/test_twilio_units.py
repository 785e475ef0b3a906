"""Sans-I/O parts of the Twilio stand-in: play queue, caller, TwiML, signing, URLs."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from gateway.standins import twilio_twiml as twiml
from gateway.standins.twilio_caller import SILENCE_FRAME, CallerLine, CallerScript, CallerVoice
from gateway.standins.twilio_playback import PlayQueue
from gateway.standins.twilio_signing import UrlMap, sign, signing_url


def test_marks_wait_for_their_audio_and_clear_echoes_them() -> None:
    queue = PlayQueue()
    assert queue.push_mark("idle") == ["idle"]
    queue.push_media(b"\x01" * 200)
    assert queue.push_mark("m1") == []
    queue.push_media(b"\x02" * 100)
    queue.push_mark("m2")
    played, echoes = queue.tick()
    assert (len(played), echoes) == (160, [])
    played, echoes = queue.tick()  # 40 bytes of m1's audio, then 100 more
    assert (len(played), echoes) == (140, [])
    played, echoes = queue.tick()  # both finished playing during the last tick
    assert (played, echoes) == (b"", ["m1", "m2"])
    assert queue.idle

    queue.push_media(b"\x03" * 1600)
    queue.push_mark("m3")
    queue.tick()
    assert queue.clear() == (["m3"], 1440)
    assert queue.tick() == (b"", [])


def test_marks_keep_their_order_and_an_empty_queue_echoes_at_once() -> None:
    queue = PlayQueue()
    queue.push_media(b"\x01" * 160)
    queue.push_mark("m1")
    queue.tick()  # m1's audio is playing: echoed at the next tick
    assert queue.push_mark("m2") == []  # must not overtake m1
    assert queue.tick() == (b"", ["m1", "m2"])
    assert queue.push_mark("m3") == ["m3"]


def test_caller_speaks_after_agent_silence_and_barges_in() -> None:
    voice = CallerVoice(
        CallerScript((CallerLine("a"), CallerLine("b", barge_in_after_ms=100))), started_at=0.0
    )
    voice._audio = [b"\x00" * 320, b"\x00" * 160]
    t = 0.0
    assert voice.tick(t, agent_playing=False).frame == SILENCE_FRAME  # nobody spoke yet
    for _ in range(10):
        t += 0.02
        voice.tick(t, agent_playing=True)
    t += 0.68
    assert voice.tick(t, agent_playing=False).frame == SILENCE_FRAME  # 680 ms of silence
    t += 0.02
    assert voice.tick(t, agent_playing=False).frame == b"\x00" * 160  # 700 ms: speaks
    assert voice.lines_log[0].text == "a" and not voice.lines_log[0].over_agent
    voice.tick(t + 0.02, agent_playing=False)
    voice.tick(t + 0.04, agent_playing=False)  # line "a" ends
    t += 1.0
    frames = [voice.tick(t + i * 0.02, agent_playing=True).frame for i in range(7)]
    assert frames[:5] == [SILENCE_FRAME] * 5  # 100 ms into the agent's turn...
    assert frames[5] == b"\x00" * 160  # ...the caller talks over it
    assert voice.lines_log[1].over_agent


def test_caller_hangs_up_after_a_deadline() -> None:
    voice = CallerVoice(CallerScript(hangup_after_s=1.0), started_at=10.0)
    assert not voice.tick(10.5, agent_playing=False).hangup
    assert voice.tick(11.0, agent_playing=False).hangup


def test_twiml_built_by_the_sdk_parses() -> None:
    response = VoiceResponse()
    connect = response.connect(action="https://gw/after")
    stream = connect.stream(url="wss://gw/media", status_callback="https://gw/stream")
    stream.parameter(name="a", value="1")
    response.say("Hello there", language="es-ES")
    response.pause(length=2)
    dial = response.dial(action="https://gw/dial-done", timeout=20)
    dial.number("+15551230000")
    response.hangup()
    verbs = twiml.parse_twiml(str(response))
    assert verbs == [
        twiml.Connect(
            twiml.Stream(
                "wss://gw/media", status_callback="https://gw/stream", parameters={"a": "1"}
            ),
            action="https://gw/after",
        ),
        twiml.Say("Hello there", language="es-ES"),
        twiml.Pause(2.0),
        twiml.Dial(
            ("+15551230000",),
            targets=(twiml.DialNumber("+15551230000"),),
            action="https://gw/dial-done",
            timeout_s=20.0,
        ),
        twiml.Hangup(),
    ]


@pytest.mark.parametrize("document", ["<Response>", "<Other/>"])
def test_not_twiml_is_an_error(document: str) -> None:
    with pytest.raises(twiml.TwimlError):
        twiml.parse_twiml(document)


def test_signature_matches_twilio_reference_vector() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675310",
        "Digits": "1234",
        "From": "+14158675310",
        "To": "+18005551212",
    }
    url = "https://example.com/myapp.php?foo=1&bar=2"
    assert sign("12345", url, params) == "L/OH5YylLD5NRKLltdqwSvS0BnU="
    assert RequestValidator("12345").validate(url, params, sign("12345", url, params))


def test_websocket_signature_and_default_port() -> None:
    url = "wss://public.example:443/twilio/media"
    assert signing_url(url) == "wss://public.example/twilio/media"
    signature = sign("tok", url)
    assert RequestValidator("tok").validate("wss://public.example/twilio/media", {}, signature)


def test_url_map_rewrites_public_urls_and_their_websocket_twins() -> None:
    mapping = UrlMap((("https://public.example/base", "http://127.0.0.1:8080/"),))
    assert mapping.map("https://public.example/base/twilio/voice?x=1") == (
        "http://127.0.0.1:8080/twilio/voice?x=1"
    )
    assert mapping.map("wss://public.example/base/twilio/media") == (
        "ws://127.0.0.1:8080/twilio/media"
    )
    assert mapping.map("https://other.example/base/x") == "https://other.example/base/x"
    assert mapping.map("https://public.example:8443/base/x") == "https://public.example:8443/base/x"
