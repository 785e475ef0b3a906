"""What every file reader hands over: rows that know where they are in the file.

A row number is the one a person sees when opening the file in a spreadsheet
program: 1-based, counting the header, title and blank rows, and counting a CSV
record that spans several lines (a quoted line break) as one row. Refused rows are
reported by that number, so a person can go straight to them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from backoffice.portfolio.normalize import Cell, cell_text


@dataclass(frozen=True, slots=True)
class SourceRow:
    number: int
    cells: Sequence[Cell]

    def is_blank(self) -> bool:
        return all(cell_text(c) is None for c in self.cells)


class UnreadableFile(Exception):
    """The file (or the rest of it, from ``row`` on) cannot be read as a table."""

    def __init__(self, reason: str, row: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row


class RowSource(Protocol):
    """An open file, read one row at a time. Close it when done."""

    format: str  # "csv", "xlsx", "xls", "ods"

    @property
    def details(self) -> dict[str, str]:
        """How the file was read (encoding and delimiter, or sheet name)."""

    def rows(self) -> Iterator[SourceRow]:
        """Every row, blank ones included, in file order; call once.

        Raises:
            UnreadableFile: the file stops making sense at some row (an unclosed
                quote, a corrupt sheet); rows yielded before it are good.
        """

    def progress(self) -> float | None:
        """How much of the file has been read, 0.0 to 1.0, if known."""

    def close(self) -> None: ...
