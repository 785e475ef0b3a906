"""Time-ordered ids: the store's 32-hex format, always increasing, RFC 9562 version 7."""

from __future__ import annotations

import uuid

from backoffice.portfolio.ordered_ids import ordered_id, ordered_ids


def test_ids_increase_across_calls_and_within_a_millisecond() -> None:
    ids = [*ordered_ids(3), ordered_id(), *ordered_ids(10_000), ordered_id()]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_ids_are_version_7_uuids() -> None:
    parsed = uuid.UUID(ordered_id())
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
