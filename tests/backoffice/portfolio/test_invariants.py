"""Invariants: any input is read or refused with a reason, never a stray exception.

Random bytes as a file give rows or :class:`UnreadableFile`; random text as an amount,
a date, a phone, an email, a language, a zone, a currency or a document gives a
value or :class:`NormalizationError`; and a whole row gives an outcome.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from backoffice.portfolio.amounts import parse_amount
from backoffice.portfolio.dates import parse_date
from backoffice.portfolio.documents import fingerprint_document
from backoffice.portfolio.fields import ImportField
from backoffice.portfolio.normalize import (
    NormalizationError,
    normalize_currency,
    normalize_email,
    normalize_language,
    normalize_phone,
    normalize_timezone,
)
from backoffice.portfolio.records import ImportContext, build_record
from backoffice.portfolio.rows import UnreadableFile
from backoffice.portfolio.table import open_table

ALPHABET = " ;,\t|\"'\r\n.-/()+€$0123456789aeñé@:\x00\x81\xff"


def noise(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, size)))


def test_any_bytes_are_rows_or_an_unreadable_file(tmp_path: Path) -> None:
    rng = random.Random(3)
    path = tmp_path / "noise"
    for i in range(300):
        text = noise(rng, 400)
        encoding = rng.choice(["utf-8", "cp1252", "latin-1", "utf-16"])
        path.write_bytes(text.encode(encoding, errors="replace"))
        try:
            table = open_table(path)
        except UnreadableFile:
            continue
        try:
            for row in table.data_rows():
                assert row.number > table.header_row, i
        except UnreadableFile:
            pass
        finally:
            table.close()


def test_any_text_is_a_value_or_a_reason() -> None:
    rng = random.Random(5)
    key = b"k" * 32
    checks: list[Callable[[str], object]] = [
        lambda v: parse_amount(v, currency="EUR", decimal_symbol=","),
        lambda v: parse_amount(v, currency="JPY", decimal_symbol="."),
        lambda v: parse_date(v, day_first=True),
        lambda v: normalize_phone(v, "ES"),
        normalize_email,
        normalize_language,
        normalize_timezone,
        lambda v: normalize_currency(v, "EUR"),
        lambda v: fingerprint_document(v, key),
    ]
    reasons = set()
    for _ in range(2000):
        text = noise(rng, 30)
        for check in checks:
            try:
                check(text)
            except NormalizationError as exc:
                reasons.add(exc.reason)
    assert "" not in reasons


def test_any_row_is_an_outcome() -> None:
    rng = random.Random(9)
    ctx = ImportContext("ES", "es-ES", "EUR", True, ",", b"k" * 32)
    for position in range(2000):
        values = {f: rng.choice([noise(rng, 20), None, 12.5, 0, -1]) for f in ImportField}
        outcome = build_record(position, values, ctx)
        assert (outcome.record is None) == bool(outcome.errors)
