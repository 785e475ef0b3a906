"""Twilio Media Streams messages: parsing what Twilio sends, building what we send.

Reference: ``shared/reference/twilio-resend.md`` §1 (Twilio's websocket-messages page).
Twilio sends JSON text frames: ``connected``, ``start`` (once), ``media`` every 20 ms,
``dtmf``, echoed ``mark`` and finally ``stop``. Numeric-looking fields are strings.

:func:`parse` turns one frame into a frozen event or raises :class:`ProtocolError`;
nothing else escapes. The media payload is kept as the base64 text Twilio sent so it
can pass through to the agent without being decoded; it is only checked to be base64
text, since it is spliced into the agent's JSON as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.protocol_error import ProtocolError

PEER = "twilio"

# The base64 alphabet with padding only at the end. Checked before the payload is
# spliced into the agent's JSON as is (pass-through): anything else would break it.
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_MARK_NAME = re.compile(r"[A-Za-z0-9:._-]*")
# Longer digit strings are not Twilio counters, and int() refuses past 4300 digits.
_MAX_DIGITS = 18
# A caller frame exactly as Twilio lays it out (reference §1.2: key order event,
# sequenceNumber, streamSid, media{track, chunk, timestamp, payload}). Every piece is
# ASCII from a class that excludes quotes and backslashes, so a match is valid JSON
# whose fields are what the full parser would return; anything else takes that parser.
_MEDIA_LAYOUT = re.compile(
    r'\{"event":"media","sequenceNumber":"[0-9]{1,18}","streamSid":"([A-Za-z0-9]{1,64})",'
    r'"media":\{"track":"inbound","chunk":"[0-9]{1,18}","timestamp":"([0-9]{1,18})",'
    r'"payload":"([A-Za-z0-9+/]*={0,2})"\}\}'
)


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str


@dataclass(frozen=True, slots=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000


@dataclass(frozen=True, slots=True)
class Media:
    stream_sid: str
    payload: str
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Mark:
    stream_sid: str
    name: str


@dataclass(frozen=True, slots=True)
class Dtmf:
    stream_sid: str
    digit: str


@dataclass(frozen=True, slots=True)
class Stop:
    stream_sid: str


TwilioEvent = Connected | Start | Media | Mark | Dtmf | Stop


def _obj(msg: dict[str, Any], key: str) -> dict[str, Any]:
    value = msg.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(PEER, key, "missing or not an object")
    return value


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ProtocolError(PEER, f"{where}{key}", "missing or not a string")
    return value


def _int_text(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    if isinstance(value, str):
        # isdigit() alone also accepts digits that int() refuses, such as "²".
        if value.isascii() and value.isdigit() and len(value) <= _MAX_DIGITS:
            return int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ProtocolError(PEER, f"{where}{key}", "missing or not a number")


def _parse_media(msg: dict[str, Any]) -> Media:
    # Fifty of these a second per call: the well-formed frame is checked inline, and
    # only a frame that fails a check goes through the helpers that name the field.
    media = msg.get("media")
    if type(media) is dict:
        payload = media.get("payload")
        sid = msg.get("streamSid")
        stamp = media.get("timestamp")
        if (
            type(payload) is str
            and type(sid) is str
            and type(stamp) is str
            and stamp.isascii()
            and stamp.isdigit()
            and len(stamp) <= _MAX_DIGITS
            and not len(payload) % 4
            and _BASE64_TEXT.fullmatch(payload) is not None
        ):
            return Media(sid, payload, int(stamp))
    media = _obj(msg, "media")
    payload = _str(media, "payload", "media.")
    if len(payload) % 4 or _BASE64_TEXT.fullmatch(payload) is None:
        raise ProtocolError(PEER, "media.payload", "not base64")
    return Media(
        stream_sid=_str(msg, "streamSid", ""),
        payload=payload,
        timestamp_ms=_int_text(media, "timestamp", "media."),
    )


def _stream_sid(start: dict[str, Any]) -> str:
    """The stream SID, checked once here because outbound frames embed it verbatim."""
    sid = _str(start, "streamSid", "start.")
    if not (0 < len(sid) <= 64 and sid.isascii() and sid.isalnum()):
        raise ProtocolError(PEER, "start.streamSid", "not an alphanumeric SID")
    return sid


def _parse_start(msg: dict[str, Any]) -> Start:
    start = _obj(msg, "start")
    params = start.get("customParameters")
    if params is None:
        params = {}
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise ProtocolError(PEER, "start.customParameters", "not an object of strings")
    media_format = start.get("mediaFormat")
    if media_format is None:
        media_format = {}
    if not isinstance(media_format, dict):
        raise ProtocolError(PEER, "start.mediaFormat", "not an object")
    encoding = media_format.get("encoding", "audio/x-mulaw")
    rate = media_format.get("sampleRate", 8000)
    if encoding != "audio/x-mulaw" or rate != 8000:
        raise ProtocolError(PEER, "start.mediaFormat", f"unsupported {encoding}@{rate}")
    return Start(
        stream_sid=_stream_sid(start),
        call_sid=_str(start, "callSid", "start."),
        account_sid=_str(start, "accountSid", "start."),
        custom_parameters=dict(params),
    )


def is_base64_text(payload: str) -> bool:
    """Whether ``payload`` is base64 text as :func:`parse` checks a media payload."""
    return not len(payload) % 4 and _BASE64_TEXT.fullmatch(payload) is not None


def media_fields(text: str) -> tuple[str, str, int] | None:
    """``(stream_sid, payload, timestamp_ms)`` of a caller frame in Twilio's own layout.

    Fifty frames a second per call: a match of that one layout is a third of the cost
    of :func:`parse`, and builds no event. None means "not that layout", never "bad":
    the frame then goes through :func:`parse`, which accepts or refuses it as always.
    A match gives exactly what :func:`parse` would put in its :class:`Media`.
    """
    match = _MEDIA_LAYOUT.fullmatch(text)
    if match is None:
        return None
    sid, stamp, payload = match.groups()
    if len(payload) % 4:
        return None
    return sid, payload, int(stamp)


def parse(text: str | bytes) -> TwilioEvent:
    """Parse one Media Streams frame.

    Returns:
        One of :class:`Connected`, :class:`Start`, :class:`Media`, :class:`Mark`,
        :class:`Dtmf`, :class:`Stop`.

    Raises:
        ProtocolError: the frame is not JSON, names an unknown event or lacks a field.
    """
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ProtocolError(PEER, "frame", "not valid JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolError(PEER, "frame", "not a JSON object")
    event = msg.get("event")
    if event == "media":
        return _parse_media(msg)
    if event == "mark":
        return Mark(_str(msg, "streamSid", ""), _str(_obj(msg, "mark"), "name", "mark."))
    if event == "dtmf":
        return Dtmf(_str(msg, "streamSid", ""), _str(_obj(msg, "dtmf"), "digit", "dtmf."))
    if event == "start":
        return _parse_start(msg)
    if event == "stop":
        return Stop(_str(msg, "streamSid", ""))
    if event == "connected":
        return Connected(str(msg.get("protocol", "")))
    raise ProtocolError(PEER, "event", f"unknown event {event!r}"[:80])


def media_message(stream_sid: str, payload_b64: str) -> str:
    """Build an outbound ``media`` frame (base64 mu-law, no header, no extra fields)."""
    # String building instead of a JSON encoder: base64 and Twilio SIDs never need
    # escaping, and this runs for every 20 ms of agent speech.
    return (
        '{"event":"media","streamSid":"'
        + stream_sid
        + '","media":{"payload":"'
        + payload_b64
        + '"}}'
    )


def mark_message(stream_sid: str, name: str) -> str:
    """Build a ``mark``; Twilio echoes it once the audio queued before it has played."""
    if _MARK_NAME.fullmatch(name) is not None:
        # One after every released batch: our own names (``<generation>:<seq>``) and
        # SIDs (checked on ``start``) need no escaping, so no encoder is needed.
        return '{"event":"mark","streamSid":"' + stream_sid + '","mark":{"name":"' + name + '"}}'
    return orjson.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}).decode()


def clear_message(stream_sid: str) -> str:
    """Build a ``clear``: Twilio drops its queued audio and echoes pending marks."""
    return '{"event":"clear","streamSid":"' + stream_sid + '"}'
