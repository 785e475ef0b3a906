"""A :class:`~gateway.calls.CallRecord` as a Redis hash: one JSON value per field.

Generic over the record's fields, so a field added to the record is stored without
touching this module; only fields whose JSON form is not their Python form (an enum,
a list of dataclasses, tuples) need a decoder here. Fields a newer process wrote that
this one does not know are ignored; fields missing from the hash take their defaults.
The one-time stream token is never part of the hash (it lives in a key of its own).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from gateway.call_context import OpeningMode
from gateway.call_status import StatusUpdate
from gateway.calls import CallRecord

PRIVATE_PREFIX = "_"
FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(CallRecord) if not f.name.startswith(PRIVATE_PREFIX)
)
_KNOWN = frozenset(FIELDS)

_DECODERS: dict[str, Callable[[Any], Any]] = {
    "opening_mode": OpeningMode,
    "history": lambda items: [StatusUpdate(str(i[0]), int(i[1]), float(i[2])) for i in items],
    "transcript": lambda items: [(str(role), str(text)) for role, text in items],
}
_ENCODERS: dict[str, Callable[[Any], Any]] = {
    "history": lambda items: [(u.status, u.sequence, u.at) for u in items],
}


def encode(record: CallRecord, fields: Iterable[str] = FIELDS) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name in fields:
        value = getattr(record, name)
        encoder = _ENCODERS.get(name)
        out[name] = orjson.dumps(encoder(value) if encoder else value)
    return out


def decode(raw: Mapping[Any, Any]) -> CallRecord:
    """The record stored as ``raw`` (an ``HGETALL`` answer).

    Raises:
        ValueError: the hash lacks the record's identity or holds malformed JSON.
    """
    values: dict[str, Any] = {}
    for key, blob in raw.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name not in _KNOWN:
            continue
        value = orjson.loads(blob)
        decoder = _DECODERS.get(name)
        values[name] = decoder(value) if decoder is not None and value is not None else value
    try:
        return CallRecord(**values)
    except TypeError as exc:
        raise ValueError(f"stored call record is incomplete: {exc}") from None


def copy_into(target: CallRecord, source: CallRecord) -> None:
    """Make ``target`` hold what ``source`` holds (keeping its own token fields)."""
    for name in FIELDS:
        setattr(target, name, getattr(source, name))
