"""Do-not-contact list files: numbers in, opted-out contacts and a report out.

A DNC list arrives however its sender keeps it: one number per line, several per
line separated by commas (or semicolons, tabs, pipes), a spreadsheet export with a
header and other columns, blank lines, a BOM, Windows line ends. The parser keeps the
phone columns when a header names them (``phone``, ``teléfono``, ``celular``, ...) and
otherwise reads every cell as a number. A first line with no digit at all is a header,
never a bad number. Each number keeps its line, so the report can point at it.

The file is read as a stream and matched in batches, so its size does not set the
memory used, apart from the report, which lists every number by design.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice.compliance.optout import PhoneReport, RawPhone, check_request, opt_out_phones

BATCH = 1000
_LINE_END = re.compile(r"\r\n|\r|\n")
_SEPARATORS = re.compile(r"[,;\t|]")
_DIGIT = re.compile(r"\d")
_PHONE_WORDS = (
    "phone",
    "tel",
    "fone",
    "movil",
    "mobile",
    "cell",
    "celular",
    "whatsapp",
    "number",
    "numero",
    "msisdn",
    "dnc",
)


def _cells(line: str) -> list[str]:
    return [cell.strip().strip("\"'").strip() for cell in _SEPARATORS.split(line)]


def _is_phone_header(cell: str) -> bool:
    plain = unicodedata.normalize("NFKD", cell).encode("ascii", "ignore").decode().lower()
    return any(word in plain for word in _PHONE_WORDS)


class DncParser:
    """Turns the lines of a DNC text, fed one at a time, into numbers.

    State is only what the first non-blank line taught: which columns hold numbers.
    """

    def __init__(self) -> None:
        self.columns: list[int] | None = None
        self.seen_content = False

    def feed(self, number: int, line: str) -> list[RawPhone]:
        """The numbers on line ``number`` (1-based); none for blanks and a header."""
        cells = _cells(line)
        if not any(cells):
            return []
        if not self.seen_content:
            self.seen_content = True
            if not _DIGIT.search(line):
                self.columns = [i for i, cell in enumerate(cells) if _is_phone_header(cell)] or None
                return []
        # A lone cell is a number even under a multi-column header (a line appended by hand).
        if self.columns is None or len(cells) == 1:
            picked = cells
        else:
            picked = [cells[i] for i in self.columns if i < len(cells)]
        return [RawPhone(cell, number) for cell in picked if cell]


def parse_lines(lines: Iterable[str]) -> Iterator[RawPhone]:
    """Every number of a whole DNC text, with its line number."""
    parser = DncParser()
    for number, line in enumerate(lines, start=1):
        yield from parser.feed(number, line)


async def text_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Lines of an uploaded text, decoded as UTF-8 (BOM or not) as the bytes arrive.

    Numbers are ASCII in every encoding people use; a Latin-1 header decodes with
    replacement characters and stays recognisable as a header.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    pending = ""
    async for chunk in chunks:
        pending += decoder.decode(chunk)
        # A CR at the end may be the first half of a CRLF split between two chunks.
        held = "\r" if pending.endswith("\r") else ""
        *complete, rest = _LINE_END.split(pending[: len(pending) - len(held)])
        pending = rest + held
        for line in complete:
            yield line
    pending += decoder.decode(b"", final=True)
    for line in _LINE_END.split(pending):
        yield line


async def import_dnc(
    conn: AsyncConnection,
    *,
    org_id: str,
    region: str,
    lines: AsyncIterable[str],
    reason: str,
    actor: str,
) -> PhoneReport:
    """Opt out every contact reachable at a number of the list; report each number.

    Args:
        conn: a connection in the caller's transaction (the whole list commits together).
        org_id: the organization whose contacts are matched.
        region: its country, to read numbers written without a country prefix.
        lines: the list's text, line by line (see :func:`text_lines`).
        reason: the opt-out reason recorded for each contact matched.
        actor: who uploaded the list, for the audit log.

    Raises:
        InvalidInput: an empty or too long reason.
    """
    check_request(reason, "dnc")
    report = PhoneReport()
    parser = DncParser()
    batch: list[RawPhone] = []
    number = 0
    async for line in lines:
        number += 1
        batch.extend(parser.feed(number, line))
        if len(batch) >= BATCH:
            await _match(conn, org_id, region, batch, reason, actor, report)
    if batch:
        await _match(conn, org_id, region, batch, reason, actor, report)
    return report


async def _match(
    conn: AsyncConnection,
    org_id: str,
    region: str,
    batch: list[RawPhone],
    reason: str,
    actor: str,
    report: PhoneReport,
) -> None:
    await opt_out_phones(
        conn,
        org_id=org_id,
        region=region,
        phones=batch,
        reason=reason,
        actor=actor,
        source="dnc",
        report=report,
    )
    batch.clear()
