"""Proposing a mapping from headers in three languages, and confirming one."""

from __future__ import annotations

import pytest

from backoffice.errors import InvalidInput
from backoffice.portfolio.fields import ImportField as F
from backoffice.portfolio.mapping import confirm_mapping, propose_mapping
from backoffice.portfolio.synonyms import fold, match_header


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Nombre", F.CONTACT_NAME),
        ("NOMBRE COMPLETO", F.CONTACT_NAME),
        ("Cliente", F.CONTACT_NAME),
        ("Name", F.CONTACT_NAME),
        ("Nome", F.CONTACT_NAME),
        ("Saldo pendiente", F.PENDING_BALANCE),
        ("Saldo", F.PENDING_BALANCE),
        ("Outstanding", F.PENDING_BALANCE),
        ("Importe", F.TOTAL_AMOUNT),
        ("Monto", F.TOTAL_AMOUNT),
        ("Valor", F.TOTAL_AMOUNT),
        ("Vencimiento", F.DUE_DATE),
        ("Fecha de vencimiento", F.DUE_DATE),
        ("Due date", F.DUE_DATE),
        ("Vencimento", F.DUE_DATE),
        ("Teléfono", F.PHONE),
        ("TELEFONO", F.PHONE),
        ("Celular", F.PHONE),
        ("Móvil", F.PHONE),
        ("Telefone", F.PHONE),
        ("WhatsApp", F.WHATSAPP),
        ("E-mail", F.EMAIL),
        ("Correo electrónico", F.EMAIL),
        ("DNI", F.DOCUMENT),
        ("CPF", F.DOCUMENT),
        ("Documento", F.DOCUMENT),
        ("Referencia", F.REFERENCE),
        ("Ref.", F.REFERENCE),
        ("Moneda", F.CURRENCY),
        ("Moeda", F.CURRENCY),
        ("Idioma", F.LANGUAGE),
        ("Zona horaria", F.TIMEZONE),
        ("Observaciones", F.NOTES),
        ("Observações", F.NOTES),
        ("ID", F.EXTERNAL_ID),
        ("External ID", F.EXTERNAL_ID),
        ("Código cliente", F.EXTERNAL_ID),
    ],
)
def test_known_headers_are_recognised_for_sure(header: str, field: F) -> None:
    best = match_header(header)[0]
    assert (best.field, best.confidence) == (field, 1.0)


def test_folding_ignores_accents_case_and_punctuation() -> None:
    assert fold("  Teléfono  Móvil (1) ") == "telefono movil 1"


def test_partial_and_misspelt_headers_get_lower_confidence() -> None:
    contained = match_header("Importe total adeudado (EUR)")[0]
    assert contained.field is F.TOTAL_AMOUNT and 0.8 <= contained.confidence < 1
    typo = match_header("Telefno")[0]
    assert typo.field is F.PHONE and typo.confidence < 0.6
    assert match_header("Columna X") == ()


def test_a_proposal_gives_each_column_one_field_and_each_field_one_column() -> None:
    headers = ["Código cliente", "Cliente", "Teléfono", "Teléfono 2", "Importe", "Saldo", "Otro"]
    proposal = propose_mapping(headers)
    assert proposal.mapping.columns == {
        F.CONTACT_NAME: 1,
        F.TOTAL_AMOUNT: 4,
        F.PENDING_BALANCE: 5,
        F.EXTERNAL_ID: 0,
        F.PHONE: 2,
    }
    assert proposal.missing == []
    assert [c.field for c in proposal.columns][-1] is None
    assert proposal.mapping.to_json()["phone"] == "Teléfono"


def test_a_balance_alone_is_used_as_the_total_too_and_said() -> None:
    proposal = propose_mapping(["Nombre", "Saldo pendiente"])
    assert proposal.mapping.columns[F.TOTAL_AMOUNT] == 1
    assert proposal.mapping.columns[F.PENDING_BALANCE] == 1
    assert "used as the total" in proposal.notes[0]


def test_missing_required_fields_are_listed() -> None:
    assert propose_mapping(["Email", "Teléfono"]).missing == [F.CONTACT_NAME, F.TOTAL_AMOUNT]


def test_repeated_headers_are_named_by_index() -> None:
    proposal = propose_mapping(["Nombre", "Importe", "Importe"])
    assert proposal.mapping.to_json() == {"contact_name": "Nombre", "total_amount": 1}


def test_a_confirmed_mapping_takes_headers_any_case_or_indexes() -> None:
    mapping = confirm_mapping(
        ["Nombre", "Importe", "Tel"], {"contact_name": "nombre", "total_amount": 1, "phone": None}
    )
    assert mapping.columns == {F.CONTACT_NAME: 0, F.TOTAL_AMOUNT: 1}


def test_a_bad_mapping_names_every_problem() -> None:
    with pytest.raises(InvalidInput) as caught:
        confirm_mapping(
            ["Nombre", "Importe", "Importe"],
            {"total_amount": "Importe", "telefono": "Tel", "email": 9, "notes": "Notas"},
        )
    reasons = {e.field: e.reason for e in caught.value.errors}
    assert set(reasons) == {
        "mapping.total_amount",
        "mapping.telefono",
        "mapping.email",
        "mapping.notes",
        "mapping.contact_name",
    }
    assert "2 columns are called 'Importe'" in reasons["mapping.total_amount"]
    assert "not a field" in reasons["mapping.telefono"]
    assert "numbered from 0" in reasons["mapping.email"]
    assert "required" in reasons["mapping.contact_name"]
