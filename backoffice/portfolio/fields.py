"""What a column of a portfolio file can mean: the fields an account is made of.

The same vocabulary names the keys of a confirmed mapping, of a JSON sync item and
of the ``field`` in every refused-row entry, so a person reads one set of names.
"""

from __future__ import annotations

from enum import StrEnum


class ImportField(StrEnum):
    CONTACT_NAME = "contact_name"
    TOTAL_AMOUNT = "total_amount"
    PENDING_BALANCE = "pending_balance"
    DUE_DATE = "due_date"
    CURRENCY = "currency"
    REFERENCE = "reference"
    EXTERNAL_ID = "external_id"
    EMAIL = "email"
    PHONE = "phone"
    WHATSAPP = "whatsapp"
    DOCUMENT = "document"
    LANGUAGE = "language"
    TIMEZONE = "timezone"
    NOTES = "notes"


REQUIRED_FIELDS: tuple[ImportField, ...] = (ImportField.CONTACT_NAME, ImportField.TOTAL_AMOUNT)

# Longest text each field may hold: the column sizes in backoffice/store/tables.py.
# Checked per row, so an overlong value refuses that row instead of failing a batch.
MAX_LENGTH: dict[ImportField, int] = {
    ImportField.CONTACT_NAME: 200,
    ImportField.REFERENCE: 128,
    ImportField.EXTERNAL_ID: 128,
    ImportField.EMAIL: 320,
    ImportField.NOTES: 10_000,
}


def parse_field(name: str) -> ImportField | None:
    """The field called ``name`` (as in a mapping or a JSON key), or None."""
    try:
        return ImportField(name)
    except ValueError:
        return None
