"""DNC list files: parsing as people write them, and the import on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from backoffice.compliance.dnc import import_dnc, parse_lines, text_lines
from backoffice.compliance.optout import RawPhone
from backoffice.errors import InvalidInput
from backoffice.orgs.service import create_organization
from backoffice.store.db import Database
from backoffice.store.tables import audit_log, contacts
from tests.backoffice.api_client import ES_ORG, US_ORG
from tests.backoffice.factories import make_contact, make_contact_phone

FILE = (
    "\ufeffNombre;Teléfono;Notas\r\n"
    "Ana;+1 212 555 0100;no llamar\r\n"
    "\r\n"
    "Luis;(415) 555-0199;\r\n"
    "Eva;;sin número\r\n"
    "Pau;12;corto\r\n"
)


def _values(phones: list[RawPhone]) -> list[tuple[str, int | None]]:
    return [(p.value, p.line) for p in phones]


def test_one_number_per_line_with_blanks() -> None:
    text = "2125550100\n\n  +1 415 555 0199  \n\n"
    assert _values(list(parse_lines(text.splitlines()))) == [
        ("2125550100", 1),
        ("+1 415 555 0199", 3),
    ]


def test_comma_separated_and_mixed_separators() -> None:
    lines = ['"2125550100", 4155550199 ; 3055550123', "6175550111\t7185550122"]
    assert [p.value for p in parse_lines(lines)] == [
        "2125550100",
        "4155550199",
        "3055550123",
        "6175550111",
        "7185550122",
    ]


def test_a_header_names_the_phone_column_and_other_columns_are_ignored() -> None:
    assert _values(list(parse_lines(FILE.lstrip("\ufeff").splitlines()))) == [
        ("+1 212 555 0100", 2),
        ("(415) 555-0199", 4),
        ("12", 6),  # read as a number; the import reports it as invalid
    ]


def test_a_header_without_a_phone_word_is_skipped_and_every_column_read() -> None:
    assert [p.value for p in parse_lines(["do not call", "2125550100"])] == ["2125550100"]


def test_a_later_line_without_digits_is_a_bad_number_not_a_header() -> None:
    assert [p.value for p in parse_lines(["2125550100", "n/a"])] == ["2125550100", "n/a"]


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 10_000])
async def test_lines_are_the_same_however_the_upload_is_chunked(size: int) -> None:
    data = FILE.encode("utf-8")
    lines = [line async for line in text_lines(_chunks(data, size))]
    assert lines == FILE.lstrip("\ufeff").replace("\r\n", "\n").split("\n")


async def test_latin1_and_old_mac_line_ends_still_give_the_numbers() -> None:
    data = "Teléfono\r2125550100\r4155550199".encode("latin-1")
    lines = [line async for line in text_lines(_chunks(data, 4))]
    assert [p.value for p in parse_lines(lines)] == ["2125550100", "4155550199"]


async def _lines(text: str) -> AsyncIterator[str]:
    for line in text.split("\n"):
        yield line


async def test_import_matches_contacts_and_reports_every_number(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    other = await create_organization(db, ES_ORG)
    ana = await make_contact(db, org.id, name="Ana", phone="+12125550100")
    luis = await make_contact(db, org.id, name="Luis")
    await make_contact_phone(db, org.id, luis, "+14155550199")
    stranger = await make_contact(db, other.id, phone="+12125550100")
    async with db.transaction() as conn:
        report = await import_dnc(
            conn,
            org_id=org.id,
            region=org.country,
            lines=_lines(FILE.lstrip("\ufeff").replace("\r\n", "\n") + "3055550123\n"),
            reason="DNC list March",
            actor="api:ops",
        )
    assert [(e.line, e.e164, e.contact_ids) for e in report.matched] == [
        (2, "+12125550100", (ana,)),
        (4, "+14155550199", (luis,)),
    ]
    assert [(e.line, e.e164) for e in report.not_found] == [(7, "+13055550123")]
    assert [(e.line, e.value) for e in report.invalid] == [(6, "12")]
    assert report.contacts_opted_out == 2
    async with db.read() as conn:
        flags = dict((await conn.execute(select(contacts.c.id, contacts.c.opted_out))).all())
        sources = (
            await conn.execute(select(audit_log.c.detail).where(audit_log.c.org_id == org.id))
        ).scalars()
        assert {d["source"] for d in sources} == {"dnc"}
    assert flags == {ana: True, luis: True, stranger: False}


async def test_a_large_list_is_matched_in_batches(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    last = await make_contact(db, org.id, phone="+12125552499")
    numbers = "\n".join(f"212555{n:04d}" for n in range(2500))
    async with db.transaction() as conn:
        report = await import_dnc(
            conn,
            org_id=org.id,
            region="US",
            lines=_lines(numbers),
            reason="DNC",
            actor="api:ops",
        )
    assert len(report.not_found) == 2499
    assert [e.contact_ids for e in report.matched] == [(last,)]


async def test_an_empty_reason_is_refused_before_anything_is_read(db: Database) -> None:
    org = await create_organization(db, US_ORG)
    async with db.transaction() as conn:
        with pytest.raises(InvalidInput, match="reason"):
            await import_dnc(
                conn, org_id=org.id, region="US", lines=_lines("1"), reason=" ", actor="a"
            )
