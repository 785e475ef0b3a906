"""A file as a table: its header row found, then the data rows below it.

Files from clients often open with a title ("Cartera enero 2026"), a blank line or
a logo row before the real header. The header is taken to be the row, among the
first :data:`HEADER_SEARCH_ROWS` non-blank ones, whose cells name the most fields
(:func:`~backoffice.portfolio.synonyms.match_header`, strong matches only); the
first non-blank row if none names any. Rows above it are ignored; blank rows below
it are skipped, not refused. Row numbers stay those of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from backoffice.portfolio.normalize import cell_text
from backoffice.portfolio.rows import RowSource, SourceRow, UnreadableFile
from backoffice.portfolio.sources import open_source
from backoffice.portfolio.synonyms import CONTAINS, match_header

HEADER_SEARCH_ROWS = 20


def _strong_fields(row: SourceRow) -> int:
    fields = set()
    for cell in row.cells:
        text = cell_text(cell)
        matches = match_header(text) if text is not None and len(text) <= 80 else ()
        if matches and matches[0].confidence >= CONTAINS:
            fields.add(matches[0].field)
    return len(fields)


@dataclass
class Table:
    source: RowSource
    header_row: int
    headers: list[str]
    _ahead: list[SourceRow] = field(default_factory=list)
    _rest: Iterator[SourceRow] = field(default_factory=lambda: iter(()))

    @property
    def format(self) -> str:
        return self.source.format

    def data_rows(self) -> Iterator[SourceRow]:
        """The non-blank rows below the header, in order; call once.

        Raises:
            UnreadableFile: from the reader, when the file stops making sense.
        """
        for row in self._ahead:
            if not row.is_blank():
                yield row
        self._ahead = []
        for row in self._rest:
            if not row.is_blank():
                yield row

    def close(self) -> None:
        self.source.close()


def read_table(source: RowSource) -> Table:
    """Find the header of ``source``; the data rows are then read lazily.

    Raises:
        UnreadableFile: no row has any content.
    """
    rows = source.rows()
    window: list[SourceRow] = []
    seen = 0
    for row in rows:
        window.append(row)
        if not row.is_blank():
            seen += 1
            if seen >= HEADER_SEARCH_ROWS:
                break
    candidates = [r for r in window if not r.is_blank()]
    if not candidates:
        raise UnreadableFile("the file has no rows with content")
    header = max(candidates, key=lambda r: (_strong_fields(r), -r.number))
    headers = [cell_text(c) or "" for c in header.cells]
    while headers and not headers[-1]:
        headers.pop()
    ahead = [r for r in window if r.number > header.number]
    return Table(source, header.number, headers, ahead, rows)


def open_table(path: Path) -> Table:
    """Open the file at ``path`` as a table. Close it when done.

    Raises:
        UnreadableFile: not a table (see :func:`~backoffice.portfolio.sources.detect_format`).
    """
    source = open_source(path)
    try:
        return read_table(source)
    except BaseException:
        source.close()
        raise
