"""Recognising a column from its header, in Spanish, English and Portuguese.

Headers are compared after folding: accents removed, case folded, punctuation and
repeated spaces collapsed ("Teléfono móvil (1)" -> "telefono movil 1"). A header
then matches a field with a confidence:

- 1.0: it *is* one of the field's synonyms ("Saldo pendiente");
- 0.8 to 0.9: it contains a synonym as whole words ("Importe total (EUR)"); the more
  of the header the synonym covers, the higher;
- up to 0.6: it is a near miss of a synonym (typos such as "Telefno"), scaled by
  how near.

The table is data, so adding a synonym is adding a string.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from backoffice.portfolio.fields import ImportField as F

# fmt: off
SYNONYMS: dict[F, tuple[str, ...]] = {
    F.CONTACT_NAME: (
        "nombre", "nombre completo", "nombre y apellidos", "apellidos y nombre",
        "apellidos nombre", "cliente", "nombre cliente", "nombre del cliente", "deudor",
        "nombre deudor", "titular", "razon social",
        "name", "full name", "customer", "customer name", "client", "client name",
        "debtor", "debtor name", "account holder", "holder",
        "nome", "nome completo", "nome do cliente", "devedor", "razao social",
    ),
    F.TOTAL_AMOUNT: (
        "importe", "importe total", "monto", "monto total", "total", "valor", "valor total",
        "deuda", "deuda total", "importe deuda", "importe adeudado", "capital",
        "amount", "total amount", "debt", "total debt", "original amount", "debt amount",
        "valor da divida", "divida", "montante", "valor original", "total da divida",
    ),
    F.PENDING_BALANCE: (
        "saldo", "saldo pendiente", "saldo deudor", "saldo actual", "pendiente",
        "importe pendiente", "deuda pendiente", "saldo vencido",
        "balance", "outstanding", "outstanding balance", "balance due", "amount due",
        "remaining", "remaining balance", "current balance",
        "saldo devedor", "saldo em aberto", "saldo pendente", "valor em aberto",
        "em aberto", "saldo atual",
    ),
    F.DUE_DATE: (
        "vencimiento", "fecha de vencimiento", "fecha vencimiento", "fecha vto", "vto",
        "f vencimiento", "fecha limite", "fecha limite de pago", "fecha de pago",
        "due date", "due", "maturity", "maturity date", "payment due", "payment due date",
        "vencimento", "data de vencimento", "data vencimento", "data limite",
    ),
    F.PHONE: (
        "telefono", "tel", "tlf", "telf", "movil", "celular", "cel", "numero de telefono",
        "telefono movil", "telefono celular", "telefono 1", "telefono principal",
        "phone", "phone number", "mobile", "mobile phone", "cell", "cell phone",
        "telephone", "mobile number",
        "telefone", "fone", "telefone celular", "numero de celular",
    ),
    F.WHATSAPP: (
        "whatsapp", "whats app", "wa", "numero whatsapp", "numero de whatsapp",
        "telefono whatsapp", "whatsapp number", "zap", "whatsapp do cliente",
    ),
    F.EMAIL: (
        "email", "e mail", "correo", "correo electronico", "mail", "email address",
        "direccion de correo", "correo e", "endereco de email", "endereco de e mail",
        "email do cliente",
    ),
    F.DOCUMENT: (
        "dni", "nif", "nie", "cif", "cpf", "cnpj", "rfc", "curp", "documento",
        "numero de documento", "documento de identidad", "cedula", "rut", "cuit", "cuil",
        "document", "document number", "id number", "national id", "ssn", "tax id",
        "documento de identificacao", "cpf cnpj", "dni nif",
    ),
    F.REFERENCE: (
        "referencia", "ref", "numero de referencia", "contrato", "numero de contrato",
        "expediente", "factura", "numero de factura", "numero de cuenta", "cuenta",
        "reference", "reference number", "contract", "contract number", "invoice",
        "invoice number", "account number", "loan number",
        "fatura", "numero do contrato", "numero da fatura",
    ),
    F.CURRENCY: ("moneda", "divisa", "currency", "moeda", "ccy", "currency code"),
    F.LANGUAGE: ("idioma", "lengua", "language", "lang", "idioma preferido", "lingua"),
    F.TIMEZONE: (
        "zona horaria", "huso horario", "timezone", "time zone", "tz", "fuso horario",
    ),
    F.NOTES: (
        "notas", "nota", "observaciones", "observacion", "comentarios", "comentario",
        "notes", "note", "comments", "comment", "remarks",
        "observacoes", "observacao",
    ),
    F.EXTERNAL_ID: (
        "id", "external id", "id externo", "codigo cliente", "codigo de cliente",
        "cod cliente", "id cliente", "codigo", "customer id", "client id", "account id",
        "debtor id", "codigo do cliente", "id do cliente", "cod",
    ),
}
# fmt: on

EXACT = 1.0
CONTAINS = 0.8
NEAR_MAX = 0.6
NEAR_CUTOFF = 0.84  # difflib ratio under which two headers are not "a typo apart"

_NOT_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """A header as compared: no accents, case folded, words separated by one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return _NOT_WORD.sub(" ", plain).strip()


@dataclass(frozen=True, slots=True)
class HeaderMatch:
    field: F
    confidence: float
    synonym: str


_BY_SYNONYM: dict[str, F] = {
    fold(synonym): field for field, synonyms in SYNONYMS.items() for synonym in synonyms
}


@lru_cache(maxsize=1024)
def match_header(header: str) -> tuple[HeaderMatch, ...]:
    """Every field ``header`` could name, best first (empty if none)."""
    folded = fold(header)
    if not folded:
        return ()
    best: dict[F, HeaderMatch] = {}

    def offer(field: F, confidence: float, synonym: str) -> None:
        current = best.get(field)
        if current is None or confidence > current.confidence:
            best[field] = HeaderMatch(field, round(confidence, 2), synonym)

    exact = _BY_SYNONYM.get(folded)
    if exact is not None:
        offer(exact, EXACT, folded)
    words = folded.split()
    padded = f" {folded} "
    for synonym, field in _BY_SYNONYM.items():
        if synonym == folded:
            continue
        if f" {synonym} " in padded:
            covered = len(synonym.split()) / len(words)
            offer(field, CONTAINS + 0.1 * covered, synonym)
        elif len(folded) >= 4 and len(synonym) >= 4:
            matcher = difflib.SequenceMatcher(None, folded, synonym)
            if matcher.real_quick_ratio() >= NEAR_CUTOFF and matcher.quick_ratio() >= NEAR_CUTOFF:
                ratio = matcher.ratio()
                if ratio >= NEAR_CUTOFF:
                    offer(field, NEAR_MAX * ratio, synonym)
    return tuple(sorted(best.values(), key=lambda m: -m.confidence))
