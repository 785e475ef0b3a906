"""Deterministic mutations of real frames, for the parsers' invariant tests.

The invariant (as in h11's ``fuzz/afl-server.py``): whatever a peer sends, a parser
returns an event or raises ``ProtocolError``; any other exception is a bug. Without
a fuzzer, the inputs are derived from real frames: every prefix (a frame cut short),
random byte flips, deletions and insertions (seeded, so a failure reproduces), and a
structural pass that deletes each field or gives it a value of every JSON type.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

# One value of each JSON type, and strings that look like numbers but are not.
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**70,
    "",
    "x",
    "12",
    "-3",
    "1e3",
    "²",
    "٣",
    "9" * 5000,
    'a"b',
    [],
    ["x"],
    {},
    {"x": 1},
]
# Bytes that matter to a JSON parser, plus a few that break UTF-8.
INTERESTING_BYTES = b'{}[]",:\\ 0-9eE.tfn\x00\x7f\x80\xc3\xff'


def prefixes(frame: str) -> Iterator[str]:
    """The frame as if cut short after every character, and also byte by byte."""
    for end in range(len(frame) + 1):
        yield frame[:end]
    data = frame.encode()
    for end in range(0, len(data) + 1, 7):
        yield data[:end].decode("utf-8", errors="replace")


def byte_mutations(frame: str, rng: random.Random, count: int) -> Iterator[bytes]:
    """``count`` copies of the frame, each with a few random bytes changed."""
    data = frame.encode()
    for _ in range(count):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            if not mutated:
                break
            position = rng.randrange(len(mutated))
            action = rng.randrange(4)
            if action == 0:
                mutated[position] ^= 1 << rng.randrange(8)
            elif action == 1:
                del mutated[position]
            elif action == 2:
                mutated.insert(position, rng.choice(INTERESTING_BYTES))
            else:
                mutated[position] = rng.choice(INTERESTING_BYTES)
        yield bytes(mutated)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


def _replaced(root: Any, path: tuple[Any, ...], new: Any, *, delete: bool = False) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(root))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return copy


def structural_mutations(frame: str) -> Iterator[str]:
    """Every field deleted, and every field (and the whole frame) given each odd value."""
    root = json.loads(frame)
    for path in _paths(root):
        if path:
            yield json.dumps(_replaced(root, path, None, delete=True))
        for value in ODD_VALUES:
            yield json.dumps(_replaced(root, path, value))


def variants(frames: list[str], *, seed: int, flips_per_frame: int = 400) -> Iterator[str | bytes]:
    """All the mutations above, for every frame; also each frame as bytes."""
    rng = random.Random(seed)
    for frame in frames:
        yield frame
        yield frame.encode()
        yield from prefixes(frame)
        yield from byte_mutations(frame, rng, flips_per_frame)
        yield from structural_mutations(frame)
