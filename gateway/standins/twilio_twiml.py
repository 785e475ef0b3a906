"""TwiML voice documents, parsed into the verbs the stand-in can run.

Why a parser of our own: the stand-in plays Twilio, so it must read what the gateway
*wrote* (not what the gateway meant), with Twilio's rules: the root is
``<Response>``, verbs run in document order, ``<Connect><Stream url>`` carries its
data only in ``<Parameter name value>`` children, and attribute names are camelCase.
Verbs the stand-in does not simulate come back as :class:`Unknown` so the call can
record them and move on.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


class TwimlError(ValueError):
    """The document is not TwiML (not XML, or the root is not ``<Response>``)."""


@dataclass(frozen=True, slots=True)
class Stream:
    url: str
    name: str | None = None
    track: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Connect:
    stream: Stream | None
    action: str | None = None
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Say:
    text: str
    voice: str | None = None
    language: str | None = None
    loop: int = 1


@dataclass(frozen=True, slots=True)
class Play:
    url: str


@dataclass(frozen=True, slots=True)
class Pause:
    length_s: float = 1.0


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str = "rejected"


@dataclass(frozen=True, slots=True)
class DialNumber:
    """A ``<Number>`` of a ``<Dial>``; ``url`` is its whisper (run on that leg when it
    answers, before the two parties are connected)."""

    number: str
    url: str | None = None
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Dial:
    numbers: tuple[str, ...] = ()
    targets: tuple[DialNumber, ...] = ()
    conference: str | None = None
    action: str | None = None
    method: str = "POST"
    timeout_s: float = 30.0
    caller_id: str | None = None


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Unknown:
    tag: str


Verb = Connect | Say | Play | Pause | Hangup | Reject | Dial | Redirect | Unknown


def parse_twiml(document: str) -> list[Verb]:
    """The verbs of ``document`` in order; raise :class:`TwimlError` if it is not TwiML."""
    try:
        root = ET.fromstring(document)  # noqa: S314 - TwiML comes from the gateway under test
    except ET.ParseError as exc:
        raise TwimlError(f"not XML: {exc}") from exc
    if root.tag != "Response":
        raise TwimlError(f"root element is <{root.tag}>, expected <Response>")
    return [_verb(element) for element in root]


def _verb(el: ET.Element) -> Verb:
    if el.tag == "Connect":
        stream_el = el.find("Stream")
        return Connect(
            stream=None if stream_el is None else _stream(stream_el),
            action=el.get("action"),
            method=el.get("method", "POST"),
        )
    if el.tag == "Say":
        return Say(
            text=(el.text or "").strip(),
            voice=el.get("voice"),
            language=el.get("language"),
            loop=_int(el.get("loop"), 1),
        )
    if el.tag == "Play":
        return Play(url=(el.text or "").strip())
    if el.tag == "Pause":
        return Pause(length_s=float(_int(el.get("length"), 1)))
    if el.tag == "Hangup":
        return Hangup()
    if el.tag == "Reject":
        return Reject(reason=el.get("reason", "rejected"))
    if el.tag == "Dial":
        return _dial(el)
    if el.tag == "Redirect":
        return Redirect(url=(el.text or "").strip(), method=el.get("method", "POST"))
    return Unknown(tag=el.tag)


def _stream(el: ET.Element) -> Stream:
    return Stream(
        url=el.get("url", ""),
        name=el.get("name"),
        track=el.get("track"),
        status_callback=el.get("statusCallback"),
        status_callback_method=el.get("statusCallbackMethod", "POST"),
        parameters={
            p.get("name", ""): p.get("value", "") for p in el.findall("Parameter") if p.get("name")
        },
    )


def _dial(el: ET.Element) -> Dial:
    targets = [
        DialNumber((n.text or "").strip(), n.get("url"), n.get("method", "POST"))
        for n in el.findall("Number")
    ]
    bare = (el.text or "").strip()
    if bare:
        targets.insert(0, DialNumber(bare))
    numbers = [t.number for t in targets]
    conference = el.find("Conference")
    return Dial(
        numbers=tuple(numbers),
        targets=tuple(targets),
        conference=None if conference is None else (conference.text or "").strip(),
        action=el.get("action"),
        method=el.get("method", "POST"),
        timeout_s=float(_int(el.get("timeout"), 30)),
        caller_id=el.get("callerId"),
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
