"""Which column feeds which field: proposed from the headers, then confirmed by a person.

A proposal pairs columns and fields greedily, most confident pair first, so each
column feeds at most one field and each field comes from at most one column. One
exception, because that is what a person would do: a file with a balance but no
total ("Saldo") uses the balance column as the total as well, and says so.

A mapping names columns by header text ("Saldo pendiente"), or by 0-based column
index when headers repeat or are blank. Its JSON form is ``{field: header or
index}``, the same in the proposal and in what a client sends back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from backoffice.errors import FieldError, InvalidInput
from backoffice.portfolio.fields import REQUIRED_FIELDS, ImportField, parse_field
from backoffice.portfolio.synonyms import fold, match_header

MIN_CONFIDENCE = 0.5

ColumnRef = str | int


@dataclass(frozen=True, slots=True)
class ColumnGuess:
    index: int
    header: str
    field: ImportField | None
    confidence: float


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """A confirmed mapping: field -> 0-based column index."""

    columns: dict[ImportField, int]
    headers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, ColumnRef]:
        """``{field: header}``, or the index where the header is blank or repeated."""
        out: dict[str, ColumnRef] = {}
        for fld, index in self.columns.items():
            header = self.headers[index] if index < len(self.headers) else ""
            unique = header and sum(h == header for h in self.headers) == 1
            out[fld.value] = header if unique else index
        return out


@dataclass(frozen=True, slots=True)
class Proposal:
    columns: list[ColumnGuess]
    mapping: ColumnMapping
    missing: list[ImportField]
    notes: list[str] = field(default_factory=list)


def propose_mapping(headers: Sequence[str]) -> Proposal:
    """The mapping a person would most likely choose for ``headers``."""
    candidates = sorted(
        (
            (match.confidence, index, match.field)
            for index, header in enumerate(headers)
            for match in match_header(header)
            if match.confidence >= MIN_CONFIDENCE
        ),
        key=lambda c: (-c[0], c[1]),
    )
    chosen: dict[ImportField, int] = {}
    guesses: dict[int, ColumnGuess] = {}
    for confidence, index, fld in candidates:
        if fld in chosen or index in guesses:
            continue
        chosen[fld] = index
        guesses[index] = ColumnGuess(index, headers[index], fld, confidence)
    notes = []
    balance = chosen.get(ImportField.PENDING_BALANCE)
    if ImportField.TOTAL_AMOUNT not in chosen and balance is not None:
        chosen[ImportField.TOTAL_AMOUNT] = balance
        notes.append(
            f"no total amount column: {headers[balance]!r} is used as the total amount "
            "and the pending balance"
        )
    columns = [
        guesses.get(index, ColumnGuess(index, header, None, 0.0))
        for index, header in enumerate(headers)
    ]
    ordered = dict(sorted(chosen.items(), key=lambda item: list(ImportField).index(item[0])))
    missing = [f for f in REQUIRED_FIELDS if f not in chosen]
    return Proposal(columns, ColumnMapping(ordered, tuple(headers)), missing, notes)


def confirm_mapping(
    headers: Sequence[str], requested: Mapping[str, ColumnRef | None]
) -> ColumnMapping:
    """Check a mapping a person sent against the file's headers.

    Raises:
        InvalidInput: naming ``mapping.<field>`` for each unknown field, missing
            column, ambiguous header, and each required field left unmapped.
    """
    errors: list[FieldError] = []
    columns: dict[ImportField, int] = {}
    for key, ref in requested.items():
        fld = parse_field(key)
        if fld is None:
            names = ", ".join(f.value for f in ImportField)
            errors.append(FieldError(f"mapping.{key}", f"not a field (fields: {names})"))
            continue
        if ref is None:
            continue
        try:
            columns[fld] = _column(headers, ref)
        except ValueError as exc:
            errors.append(FieldError(f"mapping.{key}", str(exc)))
    for fld in REQUIRED_FIELDS:
        if fld not in columns and not any(e.field == f"mapping.{fld.value}" for e in errors):
            errors.append(FieldError(f"mapping.{fld.value}", "required: choose its column"))
    if errors:
        raise InvalidInput(errors, "invalid mapping")
    return ColumnMapping(columns, tuple(headers))


def _column(headers: Sequence[str], ref: ColumnRef) -> int:
    if isinstance(ref, bool):
        raise ValueError("give a column header or a 0-based column index")
    if isinstance(ref, int):
        if not 0 <= ref < len(headers):
            raise ValueError(
                f"no column {ref}: the file has {len(headers)} columns, numbered from 0"
            )
        return ref
    hits = [i for i, header in enumerate(headers) if header == ref]
    if not hits:
        hits = [i for i, header in enumerate(headers) if fold(header) == fold(ref) and ref]
    if not hits:
        raise ValueError(f"no column called {ref!r}")
    if len(hits) > 1:
        raise ValueError(
            f"{len(hits)} columns are called {ref!r} (columns {hits}); give the column index"
        )
    return hits[0]
