"""XLSX, XLS (and ODS) workbooks through python-calamine.

Rows are handed over one at a time (``CalamineSheet.iter_rows``), so Python never
holds the sheet; but calamine itself reads a whole sheet before the first row can
be had (python-calamine #42: "Calamine doesn't support lazy loading"). That is
bounded by the formats themselves: an XLS sheet has at most 65,536 rows and an XLSX
sheet 1,048,576, and any XLSX reader must keep the shared-strings table in memory
anyway (openpyxl's read-only mode peaked at 312 MB where calamine took 151 MB on a
200,000-row sheet written by LibreOffice). Files of a million rows come as CSV,
which streams in constant memory.

The sheet read is the first visible worksheet that has data. Empty cells, which
calamine gives as ``""``, stay ``""``; dates arrive as dates.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from python_calamine import (
    CalamineError,
    CalamineSheet,
    CalamineWorkbook,
    PasswordError,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from backoffice.portfolio.normalize import Cell
from backoffice.portfolio.rows import SourceRow, UnreadableFile


class SheetSource:
    def __init__(self, path: Path, format: str) -> None:
        self.format = format
        try:
            self._book = CalamineWorkbook.from_path(str(path))
        except PasswordError:
            raise UnreadableFile("the workbook is password-protected") from None
        except (CalamineError, OSError, ValueError) as exc:
            raise UnreadableFile(f"not a readable {format.upper()} workbook: {exc}") from None
        try:
            self.sheet_name, self._sheet = self._first_sheet_with_data()
        except CalamineError as exc:
            self._book.close()
            raise UnreadableFile(f"the sheet cannot be read: {exc}") from None
        self._read = 0

    def _first_sheet_with_data(self) -> tuple[str, CalamineSheet]:
        first: tuple[str, CalamineSheet] | None = None
        for meta in self._book.sheets_metadata:
            if meta.typ != SheetTypeEnum.WorkSheet or meta.visible != SheetVisibleEnum.Visible:
                continue
            sheet = self._book.get_sheet_by_name(meta.name)
            if first is None:
                first = (meta.name, sheet)
            if sheet.height > 0:
                return meta.name, sheet
        if first is None:
            raise UnreadableFile("the workbook has no visible worksheet")
        return first

    @property
    def details(self) -> dict[str, str]:
        return {"sheet": self.sheet_name}

    def rows(self) -> Iterator[SourceRow]:
        first_row, first_column = self._sheet.start or (0, 0)
        padding: list[Cell] = [None] * first_column
        for index, cells in enumerate(self._sheet.iter_rows()):
            self._read = index + 1
            yield SourceRow(first_row + index + 1, [*padding, *cells] if padding else cells)

    def progress(self) -> float | None:
        return min(self._read / self._sheet.height, 1.0) if self._sheet.height else 1.0

    def close(self) -> None:
        try:
            self._book.close()
        except CalamineError:  # already closed
            pass
