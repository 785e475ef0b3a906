"""Reading files as rows: encodings, delimiters, row numbers, formats."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from backoffice.portfolio.csv_source import SAMPLE_BYTES, CsvSource, detect_encoding
from backoffice.portfolio.rows import SourceRow, UnreadableFile
from backoffice.portfolio.sources import detect_format, open_source
from backoffice.portfolio.table import open_table
from tests.backoffice.portfolio.helpers import FIXTURES


def rows_of(path: Path) -> list[SourceRow]:
    source = open_source(path)
    try:
        return list(source.rows())
    finally:
        source.close()


def write(tmp_path: Path, data: bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


TEXT = "Nombre;Importe;Población\nBegoña Núñez;1.234,56;Logroño\nJosé Peña;99,90;Ávila\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("cp1252"), "cp1252"),
        (TEXT.encode("latin-1") + "\x81\n".encode("latin-1"), "latin-1"),
        (TEXT.encode("utf-16"), "utf-16"),  # Excel's "Unicode text"
    ],
)
def test_encodings_are_detected(tmp_path: Path, data: bytes, encoding: str) -> None:
    path = write(tmp_path, data)
    assert detect_encoding(path) == encoding
    rows = rows_of(path)
    assert rows[1].cells[:3] == ["Begoña Núñez", "1.234,56", "Logroño"]


def test_a_late_latin1_byte_after_the_sample_is_still_found(tmp_path: Path) -> None:
    ascii_rows = "".join(f"Person {i};1,00\n" for i in range(SAMPLE_BYTES // 10))
    path = write(tmp_path, ("Nombre;Importe\n" + ascii_rows + "Muñoz;2,00\n").encode("cp1252"))
    assert path.stat().st_size > SAMPLE_BYTES
    assert rows_of(path)[-1].cells == ["Muñoz", "2,00"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path: Path, delimiter: str) -> None:
    lines = [["Nombre", "Importe", "Notas"], ["Ana", "1.234,56", "a, b; c"], ["Luis", "7", ""]]
    text = "\n".join(delimiter.join(f'"{c}"' if delimiter in c else c for c in r) for r in lines)
    path = write(tmp_path, text.encode())
    source = CsvSource(path)
    assert source.delimiter == delimiter
    source.close()
    assert [list(r.cells) for r in rows_of(path)][1] == ["Ana", "1.234,56", "a, b; c"]


def test_semicolons_win_over_decimal_commas(tmp_path: Path) -> None:
    path = write(tmp_path, b"Nombre;Importe;Saldo\nAna;1.234,56;10,5\nLuis;7;8\nEva;3,1;2\n")
    source = CsvSource(path)
    assert source.delimiter == ";"
    source.close()


def test_row_numbers_are_what_a_spreadsheet_shows(tmp_path: Path) -> None:
    text = 'Title\n\nName,Notes\nAna,"two\nlines"\n\nLuis,x\n'
    rows = rows_of(write(tmp_path, text.encode()))
    by_number = {r.number: list(r.cells) for r in rows}
    assert by_number[4] == ["Ana", "two\nlines"]  # one record, though two lines
    assert by_number[6] == ["Luis", "x"]
    assert rows[1].is_blank() and rows[1].number == 2


def test_excel_sep_line_is_obeyed_and_not_counted(tmp_path: Path) -> None:
    rows = rows_of(write(tmp_path, b"sep=;\nName;Amount\nAna;1,5\n"))
    assert [(r.number, list(r.cells)) for r in rows] == [
        (1, ["Name", "Amount"]),
        (2, ["Ana", "1,5"]),
    ]


def test_an_unclosed_quote_stops_reading_at_its_row(tmp_path: Path) -> None:
    big = "x" * (200 * 1024)
    path = write(tmp_path, f'Name,Notes\nAna,ok\nLuis,"never closed\n{big}\n'.encode())
    source = open_source(path)
    rows = source.rows()
    got = [next(rows).number, next(rows).number]
    with pytest.raises(UnreadableFile) as caught:
        next(rows)
    source.close()
    assert got == [1, 2]
    assert caught.value.row == 3


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"%PDF-1.7\n...", "not a CSV"),
        (b"<html><table><tr><td>x</td></tr></table></html>", "HTML"),
        (b"PK\x03\x04not really a zip", "damaged"),
        (b"\x00\x01\x02binary", "binary"),
    ],
)
def test_files_that_are_not_tables_are_refused(tmp_path: Path, data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile) as caught:
        detect_format(write(tmp_path, data))
    assert reason in caught.value.reason


def test_formats_come_from_the_bytes_not_the_name(tmp_path: Path) -> None:
    disguised = write(tmp_path, (FIXTURES / "cartera_es.xlsx").read_bytes(), "cartera.csv")
    assert detect_format(disguised) == "xlsx"
    assert detect_format(FIXTURES / "carteira_br.xls") == "xls"
    assert detect_format(write(tmp_path, b"a,b\n1,2\n", "data.xls")) == "csv"


def test_a_workbook_header_below_a_title_is_found_with_file_row_numbers() -> None:
    table = open_table(FIXTURES / "cartera_es.xlsx")
    try:
        assert table.format == "xlsx"
        assert table.header_row == 3
        assert table.headers[:3] == ["Código cliente", "Nombre y apellidos", "DNI"]
        rows = list(table.data_rows())
    finally:
        table.close()
    assert [r.number for r in rows] == [4, 5, 6, 7, 8, 9, 10, 12, 13, 14]  # 11 is blank
    assert rows[0].cells[0] == "C-0001"


def test_an_xls_workbook_reads_with_dates_as_dates() -> None:
    table = open_table(FIXTURES / "carteira_br.xls")
    try:
        rows = list(table.data_rows())
    finally:
        table.close()
    assert table.format == "xls" and table.header_row == 1
    assert rows[0].number == 2
    assert str(rows[0].cells[8]) == "2027-03-10"
