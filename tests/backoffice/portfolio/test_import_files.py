"""Real-world-shaped files imported on SQLite and PostgreSQL: preview, report, upsert.

Three files, each with bad rows on purpose: a semicolon-separated Windows-1252 CSV
written here byte by byte (comma decimals, day-first dates, ñ and á), an XLSX and an
XLS written by LibreOffice (see fixtures/README.md).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update

from backoffice.errors import InvalidInput
from backoffice.portfolio.service import import_file, preview_file
from backoffice.store.db import Database
from backoffice.store.tables import accounts
from tests.backoffice.portfolio.helpers import (
    BRAZIL,
    FIXTURES,
    KEY,
    accounts_of,
    history_of,
    make_org,
    phones_of,
)

HEADER = "Nombre;DNI;Teléfono;Importe;Saldo pendiente;Vencimiento;Referencia;Código cliente;Notas"
ROWS = [
    "Begoña Núñez;12345678Z;612 345 678;1.234,56;1.000,00;31/12/2026;FAC-1;ES-001;Pagará en enero",
    "José Ángel Peña;X1234567L;+34 699 111 222;350;;03/04/2027;FAC-2;ES-002;",
    ";11111111H;611000111;99,90;;01/02/2027;FAC-3;ES-003;sin nombre",  # row 4: no name
    "Lucía Fernández;22222222J;12345;500;;28/02/2027;FAC-4;ES-004;",  # row 5: phone
    "Íñigo Sáez;33333333P;622333444;-150,00;;15/03/2027;FAC-5;ES-005;",  # row 6: negative
    "Marta Gil;44444444A;633444555;780,25;780,25;31/02/2027;FAC-6;ES-006;",  # row 7: date
    'Raúl Ibáñez;55555555K;644555666;2.500;2.400;31-12-26;FAC-7;ES-007;"tarde; tras las 17h"',
    "Ana Torres;66666666Q;666777888;1,234;;30/04/2027;FAC-8;ES-008;",  # row 9: 3 decimals
    "Pedro Ruiz;77777777B;677888999;€1.500,00;;12/31/2027;FAC-9;ES-009;",
    "Laura Sin Código;99999999R;699000111;10;;;;;",  # no external_id: always inserted
]


def latin1_csv(tmp_path: Path, rows: list[str], name: str = "cartera.csv") -> Path:
    """The file as Excel in Spain saves "CSV (delimitado por comas)": cp1252, CRLF."""
    path = tmp_path / name
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("cp1252"))
    return path


async def test_latin1_semicolon_csv_preview(db: Database, tmp_path: Path) -> None:
    org = await make_org(db)
    preview = await preview_file(db, org.id, latin1_csv(tmp_path, ROWS), document_key=KEY)
    assert preview.format == "csv"
    assert preview.details == {"encoding": "cp1252", "delimiter": ";"}
    assert preview.header_row == 1
    assert preview.mapping.to_json() == {
        "contact_name": "Nombre",
        "total_amount": "Importe",
        "pending_balance": "Saldo pendiente",
        "due_date": "Vencimiento",
        "reference": "Referencia",
        "external_id": "Código cliente",
        "phone": "Teléfono",
        "document": "DNI",
        "notes": "Notas",
    }
    assert all(c.confidence == 1.0 for c in preview.proposal.columns)
    first = preview.rows[0]
    assert (first.row, first.action) == (2, "insert")
    assert first.values is not None
    assert first.values["contact_name"] == "Begoña Núñez"
    assert first.values["total_amount"] == "1234.56"
    assert first.values["pending_balance"] == "1000.00"
    assert first.values["currency"] == "EUR"
    assert first.values["due_date"] == "2026-12-31"
    assert first.values["phone"] == "+34612345678"
    assert first.values["document_last4"] == "678Z"
    assert "12345678Z" not in str(first.values)
    assert preview.rows[1].warnings == [
        "due_date: ambiguous date, read as the locale writes dates (03/04/2027 -> 2027-04-03)"
    ]
    no_name = preview.rows[2]
    assert (no_name.row, no_name.action, no_name.values) == (4, "reject", None)
    assert [e.field for e in no_name.errors] == ["contact_name"]
    assert any("read day-first, as locale es-ES writes dates" in w for w in preview.warnings)


async def test_latin1_semicolon_csv_import_reports_each_bad_row_and_upserts(
    db: Database, tmp_path: Path
) -> None:
    org = await make_org(db)
    result = await import_file(
        db, org.id, latin1_csv(tmp_path, ROWS), document_key=KEY, actor="test"
    )
    report = result.report
    assert (report.rows_read, report.inserted, report.updated) == (10, 5, 0)
    assert report.rejected_rows == 5
    assert [(r.row, r.field, r.column) for r in report.rejected] == [
        (4, "contact_name", "Nombre"),
        (5, "phone", "Teléfono"),
        (6, "total_amount", "Importe"),
        (7, "due_date", "Vencimiento"),
        (9, "total_amount", "Importe"),
    ]
    reasons = [r.reason for r in report.rejected]
    assert "required" in reasons[0]
    assert "not a valid ES phone number" in reasons[1]
    assert "negative" in reasons[2]
    assert "no such date" in reasons[3]
    assert "more decimals than EUR" in reasons[4]
    assert any("day-first, as locale es-ES" in w for w in result.warnings)
    assert any("could only be read month-first" in w and "row 10" in w for w in result.warnings)

    stored = await accounts_of(db, org.id)
    assert len(stored) == 5
    begona = stored["ES-001"]
    assert begona.name == "Begoña Núñez"
    assert (begona.total_amount, begona.pending_balance) == (Decimal("1234.56"), Decimal("1000.00"))
    assert (begona.currency, begona.due_date) == ("EUR", dt.date(2026, 12, 31))
    assert (begona.status, begona.reference, begona.notes) == ("new", "FAC-1", "Pagará en enero")
    assert begona.phone == "+34612345678"
    assert begona.document_last4 == "678Z" and len(begona.document_digest) == 64
    assert stored["ES-002"].pending_balance == Decimal("350.00")  # defaults to the total
    assert stored["ES-007"].total_amount == Decimal("2500.00")
    assert stored["ES-007"].due_date == dt.date(2026, 12, 31)
    assert stored["ES-009"].due_date == dt.date(2027, 12, 31)
    history = await history_of(db, begona.id)
    assert [(h.from_status, h.to_status, h.actor) for h in history] == [(None, "new", "import")]
    assert await phones_of(db, begona.contact_id) == {"+34612345678"}

    # Someone works the account; then the client sends the file again, corrected.
    async with db.transaction() as conn:
        await conn.execute(
            update(accounts).where(accounts.c.id == begona.id).values(status="promise_active")
        )
    again = list(ROWS)
    again[0] = again[0].replace("1.234,56", "1.300,00").replace("612 345 678", "612 000 111")
    again[1] = again[1].replace(";350;", ";400;")
    again[2] = "Sergio Ramos" + again[2]  # the nameless row, now named
    result = await import_file(
        db, org.id, latin1_csv(tmp_path, again, "cartera2.csv"), document_key=KEY, actor="test"
    )
    report = result.report
    assert (report.inserted, report.updated, report.unchanged) == (2, 2, 2)
    assert report.rejected_rows == 4
    stored = await accounts_of(db, org.id)
    assert len(stored) == 7  # ES-003 is new, and the row without external_id again
    begona = stored["ES-001"]
    assert begona.total_amount == Decimal("1300.00")
    assert begona.pending_balance == Decimal("1000.00")
    assert begona.status == "promise_active"  # kept
    assert len(await history_of(db, begona.id)) == 1  # kept, not added to
    assert begona.phone == "+34612000111"
    assert await phones_of(db, begona.contact_id) == {"+34612345678", "+34612000111"}
    jose = stored["ES-002"]
    assert (jose.total_amount, jose.pending_balance) == (Decimal("400.00"), Decimal("350.00"))
    assert stored["ES-003"].name == "Sergio Ramos"


async def test_xlsx_written_by_a_spreadsheet_program(db: Database) -> None:
    org = await make_org(db)
    path = FIXTURES / "cartera_es.xlsx"
    preview = await preview_file(db, org.id, path, document_key=KEY)
    assert (preview.format, preview.header_row) == ("xlsx", 3)
    assert preview.details == {"sheet": "cartera_es"}
    assert preview.mapping.to_json() == {
        "contact_name": "Nombre y apellidos",
        "total_amount": "Importe",
        "pending_balance": "Saldo pendiente",
        "due_date": "Fecha de vencimiento",
        "reference": "Referencia",
        "external_id": "Código cliente",
        "email": "Email",
        "phone": "Teléfono",
        "document": "DNI",
        "language": "Idioma",
        "notes": "Observaciones",
    }
    assert [(r.row, r.action) for r in preview.rows] == [
        (4, "insert"), (5, "insert"), (6, "reject"), (7, "reject"), (8, "reject"),
        (9, "reject"), (10, "insert"), (12, "reject"), (13, "insert"), (14, "insert"),
    ]  # fmt: skip
    assert preview.rows[0].values is not None
    assert preview.rows[0].values["phone"] == "+34612345678"  # was the number 612345678.0
    assert preview.rows[0].values["due_date"] == "2026-12-31"  # a date cell

    result = await import_file(db, org.id, path, document_key=KEY, actor="test")
    report = result.report
    assert (report.inserted, report.rejected_rows) == (5, 5)
    assert [(r.row, r.field) for r in report.rejected] == [
        (6, "contact_name"),
        (7, "phone"),
        (8, "total_amount"),
        (8, "email"),
        (9, "due_date"),
        (12, "total_amount"),
    ]
    assert any("exceed the total amount" in w and "row 13" in w for w in result.warnings)
    stored = await accounts_of(db, org.id)
    raul = stored["C-0007"]
    assert raul.phone == "+34644555666" and raul.language == "es-ES"
    assert await phones_of(db, raul.contact_id) == {"+34644555666", "+34655666777"}
    assert raul.notes == "Llamar por la tarde, no antes de las 17h"
    assert stored["C-0010"].language == "en"
    assert stored["C-0001"].due_date == dt.date(2026, 12, 31)

    again = await import_file(db, org.id, path, document_key=KEY, actor="test")
    assert (again.report.inserted, again.report.updated, again.report.unchanged) == (0, 0, 5)
    assert len(await accounts_of(db, org.id)) == 5


async def test_xls_from_a_brazilian_client(db: Database) -> None:
    org = await make_org(db, BRAZIL)
    path = FIXTURES / "carteira_br.xls"
    preview = await preview_file(db, org.id, path, document_key=KEY)
    assert preview.format == "xls"
    assert preview.mapping.to_json() == {
        "contact_name": "Nome completo",
        "total_amount": "Valor",
        "pending_balance": "Saldo devedor",
        "due_date": "Vencimento",
        "currency": "Moeda",
        "external_id": "ID",
        "email": "E-mail",
        "phone": "Telefone",
        "whatsapp": "WhatsApp",
        "document": "CPF",
        "notes": "Observações",
    }
    result = await import_file(db, org.id, path, document_key=KEY, actor="test")
    report = result.report
    assert report.inserted == 3
    assert [(r.row, r.field) for r in report.rejected] == [
        (4, "phone"),
        (5, "email"),
        (7, "total_amount"),
        (8, "currency"),
    ]
    assert "greater than zero" in report.rejected[2].reason
    stored = await accounts_of(db, org.id)
    joao = stored["BR-001"]
    assert (joao.phone, joao.whatsapp) == ("+5511987654321", "+5511987654321")
    assert (joao.currency, joao.total_amount) == ("BRL", Decimal("1500.50"))
    assert joao.document_last4 == "8909"
    assert stored["BR-005"].currency == "USD"
    assert stored["BR-002"].due_date == dt.date(2027, 4, 15)


async def test_a_dry_run_counts_and_writes_nothing(db: Database, tmp_path: Path) -> None:
    org = await make_org(db)
    result = await import_file(
        db, org.id, latin1_csv(tmp_path, ROWS), document_key=KEY, actor="test", dry_run=True
    )
    assert (result.report.inserted, result.report.rejected_rows) == (5, 5)
    assert await accounts_of(db, org.id) == {}


async def test_the_reader_process_gives_the_same_report(db: Database, tmp_path: Path) -> None:
    org = await make_org(db)
    path = latin1_csv(tmp_path, ROWS)
    report = (
        await import_file(
            db, org.id, path, document_key=KEY, actor="test", dry_run=True, in_process=False
        )
    ).report
    inline = (
        await import_file(
            db, org.id, path, document_key=KEY, actor="test", dry_run=True, in_process=True
        )
    ).report
    assert (report.inserted, report.rejected) == (inline.inserted, inline.rejected)
    assert report.tally.counts == inline.tally.counts


async def test_a_workbook_read_by_the_reader_process(db: Database) -> None:
    org = await make_org(db)
    result = await import_file(
        db, org.id, FIXTURES / "cartera_es.xlsx", document_key=KEY, actor="t", in_process=False
    )
    assert (result.report.inserted, result.report.rejected_rows) == (5, 5)
    assert [r.row for r in result.report.rejected][:2] == [6, 7]


async def test_previews_agree_in_and_out_of_process(db: Database, tmp_path: Path) -> None:
    org = await make_org(db)
    path = FIXTURES / "cartera_es.xlsx"
    here = await preview_file(db, org.id, path, document_key=KEY, in_process=True)
    there = await preview_file(db, org.id, path, document_key=KEY, in_process=False)
    assert (there.format, there.details, there.header_row) == ("xlsx", {"sheet": "cartera_es"}, 3)
    assert there.rows == here.rows and there.warnings == here.warnings
    not_a_table = tmp_path / "report.pdf"
    not_a_table.write_bytes(b"%PDF-1.7 ...")
    with pytest.raises(InvalidInput) as caught:
        await preview_file(db, org.id, not_a_table, document_key=KEY, in_process=False)
    assert caught.value.errors[0].field == "file"
