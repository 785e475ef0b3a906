"""Opening an uploaded file as rows, whatever it is: told by its bytes, not its name.

Uploads arrive with names and media types that lie (a CSV called ``.xls``, an XLSX
sent as ``application/octet-stream``), so the format comes from the first bytes: a
ZIP is an XLSX (or ODS) workbook, an OLE2 compound file is an XLS workbook, text is
CSV. Anything else is refused with a reason a person can act on.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from backoffice.portfolio.csv_source import CsvSource
from backoffice.portfolio.rows import RowSource, UnreadableFile
from backoffice.portfolio.sheet_source import SheetSource

_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
SUPPORTED = "a CSV, XLSX or XLS file"


def detect_format(path: Path) -> str:
    """``csv``, ``xlsx``, ``xls`` or ``ods``.

    Raises:
        UnreadableFile: empty, or not a table at all (a PDF, an HTML page, an image).
    """
    with path.open("rb") as file:
        head = file.read(4096)
    if not head.strip():
        raise UnreadableFile("the file is empty")
    if head.startswith(_ZIP):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            raise UnreadableFile(f"a damaged ZIP file, not {SUPPORTED}") from None
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "content.xml" in names:
            return "ods"
        raise UnreadableFile(f"a ZIP archive, not {SUPPORTED}")
    if head.startswith(_OLE2):
        return "xls"
    lowered = head.lstrip(b"\xef\xbb\xbf \r\n\t").lower()
    if lowered.startswith((b"<html", b"<!doctype html", b"<table")):
        raise UnreadableFile(
            "an HTML page saved under a spreadsheet name; open it and save it as XLSX or CSV"
        )
    if lowered.startswith(b"<?xml"):
        raise UnreadableFile("an XML file (Excel 2003 XML?); save it as XLSX or CSV")
    if lowered.startswith((b"%pdf", b"\x89png", b"\xff\xd8\xff")):
        raise UnreadableFile(f"not {SUPPORTED}")
    if b"\x00" in head and not head.startswith(_UTF16_BOMS):
        raise UnreadableFile(f"a binary file, not {SUPPORTED}")
    return "csv"


def open_source(path: Path) -> RowSource:
    """The rows of the file at ``path``. Close it when done.

    Raises:
        UnreadableFile: as :func:`detect_format`, or the workbook cannot be opened.
    """
    fmt = detect_format(path)
    if fmt == "csv":
        return CsvSource(path)
    return SheetSource(path, fmt)
