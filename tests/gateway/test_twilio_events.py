"""gateway.twilio_events: Twilio's frames in, ours out (reference twilio-resend.md §1)."""

import base64
import json
from typing import Any

import pytest

from gateway import twilio_events as te
from gateway.protocol_error import ProtocolError
from tests.gateway.bridge_helpers import (
    ACCOUNT_SID,
    CALL_SID,
    STREAM_SID,
    b64,
    tagged,
    twilio_connected,
    twilio_dtmf,
    twilio_mark,
    twilio_media,
    twilio_start,
    twilio_stop,
)
from tests.gateway.parser_variants import variants

PAYLOAD = b64(tagged(0x7E))  # 160 bytes: 216 base64 characters, as Twilio sends

REAL_FRAMES = [
    twilio_connected(),
    twilio_start(1, custom_parameters={"stream_token": "tok", "account_ref": "A-1"}),
    twilio_media(PAYLOAD, seq=4, chunk=2, timestamp_ms=40),
    twilio_dtmf("1", seq=57),
    twilio_mark("3:12", seq=90),
    twilio_stop(seq=412),
]


def frame(**fields: Any) -> str:
    return json.dumps(fields)


def error_of(text: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        te.parse(text)
    return caught.value


# ------------------------------------------------------------ every event
def test_connected() -> None:
    assert te.parse(twilio_connected()) == te.Connected("Call")


def test_start_carries_the_stream_the_call_and_the_parameters() -> None:
    event = te.parse(twilio_start(1, custom_parameters={"stream_token": "tok", "attempt": "3"}))
    assert event == te.Start(
        stream_sid=STREAM_SID,
        call_sid=CALL_SID,
        account_sid=ACCOUNT_SID,
        custom_parameters={"stream_token": "tok", "attempt": "3"},
        encoding="audio/x-mulaw",
        sample_rate=8000,
    )


@pytest.mark.parametrize("absent", [None, "missing"])
def test_start_without_parameters_or_media_format(absent: str | None) -> None:
    msg = json.loads(twilio_start(1))
    for key in ("customParameters", "mediaFormat"):
        if absent == "missing":
            del msg["start"][key]
        else:
            msg["start"][key] = None
    event = te.parse(json.dumps(msg))
    assert isinstance(event, te.Start)
    assert event.custom_parameters == {}


def test_media_numeric_strings_become_numbers_and_the_payload_stays_text() -> None:
    event = te.parse(twilio_media(PAYLOAD, seq=4, chunk=2, timestamp_ms=40))
    assert event == te.Media(stream_sid=STREAM_SID, payload=PAYLOAD, timestamp_ms=40)
    assert isinstance(event, te.Media)
    assert event.payload == PAYLOAD  # the very text, for pass-through


def test_media_timestamp_as_a_json_number_is_accepted() -> None:
    msg = json.loads(twilio_media(PAYLOAD, seq=4, chunk=2, timestamp_ms=40))
    msg["media"]["timestamp"] = 40
    event = te.parse(json.dumps(msg))
    assert isinstance(event, te.Media)
    assert event.timestamp_ms == 40


@pytest.mark.parametrize("payload", ["", "AA==", "AAA=", "AAAA", PAYLOAD])
def test_media_payload_of_any_length_is_accepted(payload: str) -> None:
    event = te.parse(twilio_media(payload, seq=2, chunk=1, timestamp_ms=0))
    assert isinstance(event, te.Media)
    assert event.payload == payload


def test_dtmf_mark_and_stop() -> None:
    assert te.parse(twilio_dtmf("#", seq=57)) == te.Dtmf(STREAM_SID, "#")
    assert te.parse(twilio_mark("2:7", seq=90)) == te.Mark(STREAM_SID, "2:7")
    assert te.parse(twilio_stop(seq=412)) == te.Stop(STREAM_SID)


def test_bytes_are_parsed_like_text() -> None:
    assert te.parse(twilio_stop(seq=3).encode()) == te.Stop(STREAM_SID)


def test_events_are_frozen() -> None:
    event = te.parse(twilio_stop(seq=3))
    assert isinstance(event, te.Stop)
    with pytest.raises(AttributeError):
        event.stream_sid = "other"  # type: ignore[misc]


# ------------------------------------------------------------ bad frames
def _mutate(text: str, path: list[str], value: Any) -> str:
    msg = json.loads(text)
    parent = msg
    for key in path[:-1]:
        parent = parent[key]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return json.dumps(msg)


_DELETE = object()
START = twilio_start(1)
MEDIA = twilio_media(PAYLOAD, seq=4, chunk=2, timestamp_ms=40)
MARK = twilio_mark("1:1", seq=5)
DTMF = twilio_dtmf("5", seq=6)
STOP = twilio_stop(seq=7)

BAD_FIELDS = [
    # (frame, path, value, the field the error must name)
    (START, ["start"], _DELETE, "start"),
    (START, ["start"], "MZ", "start"),
    (START, ["start", "streamSid"], _DELETE, "start.streamSid"),
    (START, ["start", "callSid"], 42, "start.callSid"),
    (START, ["start", "accountSid"], None, "start.accountSid"),
    (START, ["start", "customParameters"], [], "start.customParameters"),
    (START, ["start", "customParameters"], "a=1", "start.customParameters"),
    (START, ["start", "customParameters"], {"attempt": 3}, "start.customParameters"),
    (START, ["start", "mediaFormat"], "audio/x-mulaw", "start.mediaFormat"),
    (START, ["start", "mediaFormat"], [], "start.mediaFormat"),
    (START, ["start", "mediaFormat", "encoding"], "audio/l16", "start.mediaFormat"),
    (START, ["start", "mediaFormat", "sampleRate"], 16000, "start.mediaFormat"),
    (MEDIA, ["streamSid"], _DELETE, "streamSid"),
    (MEDIA, ["streamSid"], 7, "streamSid"),
    (MEDIA, ["media"], _DELETE, "media"),
    (MEDIA, ["media"], PAYLOAD, "media"),
    (MEDIA, ["media", "payload"], _DELETE, "media.payload"),
    (MEDIA, ["media", "payload"], 12, "media.payload"),
    (MEDIA, ["media", "payload"], "not base64!", "media.payload"),
    (MEDIA, ["media", "payload"], "AAA", "media.payload"),
    (MEDIA, ["media", "payload"], "AA=A", "media.payload"),
    (MEDIA, ["media", "payload"], "A===", "media.payload"),
    (MEDIA, ["media", "payload"], 'AA"}', "media.payload"),
    (MEDIA, ["media", "payload"], "AA\\A", "media.payload"),
    (MEDIA, ["media", "payload"], "AAAA\n", "media.payload"),
    (MEDIA, ["media", "timestamp"], _DELETE, "media.timestamp"),
    (MEDIA, ["media", "timestamp"], "4a", "media.timestamp"),
    (MEDIA, ["media", "timestamp"], "-40", "media.timestamp"),
    (MEDIA, ["media", "timestamp"], " 40", "media.timestamp"),
    (MEDIA, ["media", "timestamp"], "²", "media.timestamp"),
    (MEDIA, ["media", "timestamp"], "٤٠", "media.timestamp"),
    (MEDIA, ["media", "timestamp"], "9" * 5000, "media.timestamp"),
    (MEDIA, ["media", "timestamp"], True, "media.timestamp"),
    (MEDIA, ["media", "timestamp"], 40.5, "media.timestamp"),
    (MARK, ["streamSid"], _DELETE, "streamSid"),
    (MARK, ["mark"], _DELETE, "mark"),
    (MARK, ["mark", "name"], 3, "mark.name"),
    (DTMF, ["dtmf"], "1", "dtmf"),
    (DTMF, ["dtmf", "digit"], _DELETE, "dtmf.digit"),
    (DTMF, ["dtmf", "digit"], 1, "dtmf.digit"),
    (STOP, ["streamSid"], None, "streamSid"),
]


@pytest.mark.parametrize(
    ("text", "path", "value", "field"),
    BAD_FIELDS,
    ids=[
        f"{json.loads(t)['event']}-{'.'.join(p)}-{i}" for i, (t, p, _, _) in enumerate(BAD_FIELDS)
    ],
)
def test_a_missing_or_wrong_field_is_named(
    text: str, path: list[str], value: Any, field: str
) -> None:
    error = error_of(_mutate(text, path, value))
    assert error.peer == "twilio"
    assert error.field == field
    assert str(error).startswith(f"twilio: {field}: ")


@pytest.mark.parametrize(
    "text",
    ["", "{", "not json", '{"event":"media"', b"\xff\xfe{}", "[" * 5000, '{"event": "stop",}'],
)
def test_invalid_json(text: str | bytes) -> None:
    assert error_of(text).field == "frame"


@pytest.mark.parametrize("text", ["[]", '"media"', "1", "null", "true", '[{"event":"stop"}]'])
def test_a_frame_that_is_not_an_object(text: str) -> None:
    assert error_of(text).field == "frame"


@pytest.mark.parametrize(
    "text",
    [
        frame(event="clear", streamSid=STREAM_SID),
        frame(event="MEDIA", streamSid=STREAM_SID),
        frame(event=None),
        frame(event=["media"]),
        frame(streamSid=STREAM_SID),
        "{}",
    ],
)
def test_an_unknown_or_missing_event_is_refused(text: str) -> None:
    assert error_of(text).field == "event"


def test_the_error_about_an_unknown_event_stays_short() -> None:
    assert len(error_of(frame(event="x" * 10_000)).reason) <= 80


def test_any_input_gives_an_event_or_a_protocol_error() -> None:
    """Truncated, bit-flipped and retyped real frames never raise anything else."""
    outcomes = {"event": 0}
    errors: list[ProtocolError] = []
    for text in variants(REAL_FRAMES, seed=20250611):
        try:
            event = te.parse(text)
        except ProtocolError as exc:
            errors.append(exc)
        else:
            assert isinstance(
                event, te.Connected | te.Start | te.Media | te.Mark | te.Dtmf | te.Stop
            )
            outcomes["event"] += 1
    # The mutations must have reached both outcomes, or the test proves little.
    assert outcomes["event"] > 100
    assert len(errors) > 1000
    assert all(error.peer == "twilio" and error.field for error in errors)


# ------------------------------------------------------------ what we send
def test_media_message_has_exactly_the_fields_twilio_expects() -> None:
    text = te.media_message(STREAM_SID, PAYLOAD)
    assert json.loads(text) == {
        "event": "media",
        "streamSid": STREAM_SID,
        "media": {"payload": PAYLOAD},
    }
    assert base64.b64decode(json.loads(text)["media"]["payload"]) == tagged(0x7E)


def test_mark_message_round_trips() -> None:
    text = te.mark_message(STREAM_SID, "4:17")
    assert json.loads(text) == {"event": "mark", "streamSid": STREAM_SID, "mark": {"name": "4:17"}}


def test_mark_echo_names_the_mark_we_sent() -> None:
    sent = json.loads(te.mark_message(STREAM_SID, "4:17"))
    sent["sequenceNumber"] = "9"  # Twilio adds it on the echo
    assert te.parse(json.dumps(sent)) == te.Mark(STREAM_SID, "4:17")


def test_clear_message_round_trips() -> None:
    assert json.loads(te.clear_message(STREAM_SID)) == {"event": "clear", "streamSid": STREAM_SID}


# ------------------------------------------------------------ the media fast path
FIRST_FRAME = twilio_media(PAYLOAD, seq=1, chunk=1, timestamp_ms=0)

def test_twilios_own_media_layout_is_read_without_the_full_parser() -> None:
    text = twilio_media(PAYLOAD, seq=4, chunk=2, timestamp_ms=40)
    assert te.media_fields(text) == (STREAM_SID, PAYLOAD, 40)
    assert te.parse(text) == te.Media(STREAM_SID, PAYLOAD, 40)


@pytest.mark.parametrize(
    "text",
    [
        # Same frame, other key order, spacing or extra fields: valid, not the layout.
        json.dumps(
            {"event": "media", "streamSid": STREAM_SID, "sequenceNumber": "4",
             "media": {"track": "inbound", "chunk": "2", "timestamp": "40", "payload": PAYLOAD}}
        ),
        json.dumps(
            {"event": "media", "sequenceNumber": "4", "streamSid": STREAM_SID,
             "media": {"track": "inbound", "chunk": "2", "timestamp": "40", "payload": PAYLOAD}}
        ),
        frame(event="media", streamSid=STREAM_SID, media={"payload": PAYLOAD, "timestamp": 40}),
        twilio_media(PAYLOAD, seq=4, chunk=2, timestamp_ms=40).replace("inbound", "outbound"),
        twilio_media("A" * 3, seq=4, chunk=2, timestamp_ms=40),  # not whole base64 quanta
    ],
)
def test_a_frame_not_in_the_layout_is_left_to_the_full_parser(text: str) -> None:
    assert te.media_fields(text) is None
    if '"AAA"' in text:  # the one refused: not whole base64 quanta
        assert error_of(text).field == "media.payload"
    else:
        assert te.parse(text) == te.Media(STREAM_SID, PAYLOAD, 40)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (twilio_media("AA=A" * 4, seq=1, chunk=1, timestamp_ms=0), "media.payload"),
        (twilio_media('AA"}', seq=1, chunk=1, timestamp_ms=0), "media.payload"),
        (FIRST_FRAME.replace('"0"', '"-1"'), "media.timestamp"),
        (FIRST_FRAME.replace('"0"', '"٣"'), "media.timestamp"),
        (FIRST_FRAME[:-1], "frame"),
    ],
)
def test_a_malformed_media_frame_misses_the_layout_and_is_refused_as_before(
    text: str, field: str
) -> None:
    assert te.media_fields(text) is None
    assert error_of(text).field == field


def test_the_layout_never_disagrees_with_the_full_parser() -> None:
    """On every mutation of real frames: no match, or exactly the parser's event."""
    media = [twilio_media(PAYLOAD, seq=n, chunk=n, timestamp_ms=20 * n) for n in (1, 77, 10**17)]
    edges = [
        twilio_media(payload, seq=1, chunk=1, timestamp_ms=0, stream_sid=sid)
        for payload in ("", "AA==", "AAA=", "+/+/", PAYLOAD[:-4] + "AB==")
        for sid in ("M", "MZ" + "f" * 62, STREAM_SID)
    ]
    leading_zeros = FIRST_FRAME.replace('"0"', '"00020"')
    matched = 0
    for text in [*edges, leading_zeros, *variants(media + REAL_FRAMES, seed=20261202)]:
        if isinstance(text, bytes):
            continue  # the server hands the call text only
        fields = te.media_fields(text)
        if fields is None:
            continue
        matched += 1
        assert te.parse(text) == te.Media(*fields)
    assert matched > len(edges)  # and some mutations kept the layout


def test_a_mark_name_that_needs_escaping_still_makes_valid_json() -> None:
    for name in ("4:17", 'say "hi"\\', "é\n"):
        text = te.mark_message(STREAM_SID, name)
        mark = {"event": "mark", "streamSid": STREAM_SID, "mark": {"name": name}}
        assert json.loads(text) == mark
