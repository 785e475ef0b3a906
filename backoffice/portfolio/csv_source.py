"""CSV files as Excel and people write them: any of four delimiters, three encodings.

Encoding: a byte-order mark decides (UTF-8 or UTF-16, which Excel's "Unicode text"
export writes). Otherwise the whole file is checked as UTF-8, chunk by chunk, before
any row is read: a sample is not enough, because the first non-ASCII name ("Muñoz")
may sit a megabyte in, and a wrong guess would then fail half-way. Not UTF-8 means
Windows-1252 (what Excel writes in Spain and Latin America), or Latin-1 if a byte
Windows-1252 leaves undefined occurs.

Delimiter: ``,`` ``;`` tab or ``|``, whichever splits the first lines into the same
number of fields most consistently (a ``;`` file with "1.234,56" amounts has a
varying number of commas per line but a constant number of semicolons). Excel's
``sep=;`` first line is obeyed, and is not counted as a row, as Excel does.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from backoffice.portfolio.rows import SourceRow, UnreadableFile

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 64 * 1024
SAMPLE_LINES = 50
CHUNK_BYTES = 1 << 20
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_NAMES = {"\t": "tab"}


def detect_encoding(path: Path) -> str:
    """``utf-8-sig``, ``utf-16``, ``utf-8``, ``cp1252`` or ``latin-1``; reads the file once."""
    with path.open("rb") as file:
        head = file.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return "utf-16"
        file.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        utf8 = True
        undefined = False
        while chunk := file.read(CHUNK_BYTES):
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            undefined = undefined or any(b in chunk for b in _CP1252_UNDEFINED)
            if not utf8 and undefined:
                break
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        return "utf-8"
    return "latin-1" if undefined else "cp1252"


def _sample_text(path: Path, encoding: str) -> tuple[str, bool]:
    """The first lines of the file, decoded; and whether that is the whole file."""
    with path.open("rb") as file:
        data = file.read(SAMPLE_BYTES)
        whole = not file.read(1)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(data, final=whole)
    if not whole and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text, whole


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the sample's lines most consistently (``,`` if none)."""
    best, best_score = ",", (False, 0.0, 0)
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
        counts = []
        try:
            for cells in reader:
                if any(c.strip() for c in cells):
                    counts.append(len(cells))
                if len(counts) >= SAMPLE_LINES:
                    break
        except csv.Error:
            continue
        if not counts:
            continue
        mode, hits = Counter(counts).most_common(1)[0]
        score = (mode > 1, hits / len(counts), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _sep_line(sample: str) -> str | None:
    first = sample.lstrip("\ufeff").split("\n", 1)[0].strip().strip('"')
    if first.lower().startswith("sep=") and len(first) == 5:
        return first[4]
    return None


class CsvSource:
    """A CSV file read lazily: one decoded record at a time, never the whole file."""

    format = "csv"

    def __init__(self, path: Path) -> None:
        self.encoding = detect_encoding(path)
        sample, _ = _sample_text(path, self.encoding)
        declared = _sep_line(sample)
        self._skip_sep_line = declared is not None
        self.delimiter = declared or sniff_delimiter(sample)
        self._size = path.stat().st_size or 1
        self._file: BinaryIO = path.open("rb")
        self._text = io.TextIOWrapper(self._file, encoding=self.encoding, newline="")

    @property
    def details(self) -> dict[str, str]:
        return {
            "encoding": self.encoding,
            "delimiter": _NAMES.get(self.delimiter, self.delimiter),
        }

    def rows(self) -> Iterator[SourceRow]:
        reader = csv.reader(self._text, delimiter=self.delimiter)
        number = 0
        try:
            if self._skip_sep_line:
                next(reader, None)
            for cells in reader:
                number += 1
                yield SourceRow(number, cells)
        except csv.Error as exc:
            raise UnreadableFile(
                f"the file cannot be read past row {number}: {exc} "
                "(often a quote that is opened and never closed)",
                row=number + 1,
            ) from None
        except UnicodeDecodeError:
            raise UnreadableFile(
                f"the file cannot be read past row {number}: not {self.encoding} text",
                row=number + 1,
            ) from None

    def progress(self) -> float | None:
        try:
            return min(self._file.tell() / self._size, 1.0)
        except ValueError:  # closed
            return 1.0

    def close(self) -> None:
        self._text.close()  # and the file under it
