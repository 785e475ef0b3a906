"""What an import tells the person who ran it: counts, refused rows, and warnings.

Refused rows are listed one entry per problem (row, field, reason), up to
:data:`MAX_REJECTIONS` entries so that a million bad rows cannot make a million-line
answer; ``rejected_rows`` always counts them all. Warnings are tallied by kind with
the first example, and rendered as one sentence each, so a file where every date is
ambiguous says so once, not a hundred thousand times.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from backoffice.errors import FieldError
from backoffice.portfolio.fields import ImportField
from backoffice.portfolio.records import Note, NoteKind, RowOutcome

MAX_REJECTIONS = 1000


@dataclass(frozen=True, slots=True)
class Rejection:
    row: int  # file row number; for a JSON sync, the item's 0-based index
    field: str
    reason: str
    column: str | None = None  # the file's header for that field, when there is one


@dataclass(frozen=True, slots=True)
class ReadingStyle:
    """How the organization's locale reads things, for the warnings' wording."""

    locale: str
    day_first: bool


@dataclass
class WarningTally:
    counts: Counter[NoteKind] = field(default_factory=Counter)
    first: dict[NoteKind, tuple[int, Note]] = field(default_factory=dict)

    def add(self, position: int, note: Note) -> None:
        self.counts[note.kind] += 1
        self.first.setdefault(note.kind, (position, note))

    def messages(self, style: ReadingStyle, where: str = "row") -> list[str]:
        out = []
        for kind, count in self.counts.items():
            position, note = self.first[kind]
            example = f"{note.text} at {where} {position}"
            out.append(_MESSAGES[kind](count, example, style))
        return out


def _dates(style: ReadingStyle) -> str:
    return "day-first" if style.day_first else "month-first"


_MESSAGES = {
    NoteKind.DATE_AMBIGUOUS: lambda n, ex, s: (
        f"{n:,} date(s) could be read either way (e.g. {ex}); they were read "
        f"{_dates(s)}, as locale {s.locale} writes dates"
    ),
    NoteKind.DATE_AGAINST_LOCALE: lambda n, ex, s: (
        f"{n:,} date(s) could only be read {'month' if s.day_first else 'day'}-first, against "
        f"locale {s.locale} (e.g. {ex}): check that the file's ambiguous dates were meant "
        f"{_dates(s)}"
    ),
    NoteKind.DATE_SERIAL: lambda n, ex, s: (
        f"{n:,} due date(s) were spreadsheet day numbers and were read as dates (e.g. {ex})"
    ),
    NoteKind.PENDING_OVER_TOTAL: lambda n, ex, s: (
        f"{n:,} pending balance(s) exceed the total amount (e.g. {ex})"
    ),
    NoteKind.EXTRA_PHONE_DROPPED: lambda n, ex, s: (
        f"{n:,} additional phone number(s) in phone cells were not valid and were left out "
        f"(e.g. {ex})"
    ),
    NoteKind.DUPLICATE_EXTERNAL_ID: lambda n, ex, s: (
        f"{n:,} row(s) repeat an external_id seen earlier in the same input; the later row "
        f"updated the account (e.g. {ex})"
    ),
}


@dataclass
class ImportReport:
    """The outcome of one import or sync."""

    dry_run: bool = False
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_rows: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    tally: WarningTally = field(default_factory=WarningTally)
    notes: list[str] = field(default_factory=list)  # file-level remarks (mapping, stop)

    rejections_left_out: int = 0  # entries beyond MAX_REJECTIONS, counted not kept

    def count(self, outcome: RowOutcome, columns: dict[ImportField, str] | None = None) -> None:
        """Account for one row read: its notes, and its problems if it is refused."""
        self.rows_read += 1
        for note in outcome.notes:
            self.tally.add(outcome.position, note)
        if outcome.errors:
            self.refuse(outcome.position, outcome.errors, columns)

    def refuse(
        self,
        position: int,
        errors: tuple[FieldError, ...] | list[FieldError],
        columns: dict[ImportField, str] | None = None,
    ) -> None:
        self.rejected_rows += 1
        for error in errors:
            if len(self.rejected) >= MAX_REJECTIONS:
                self.rejections_left_out += 1
                continue
            column = None
            if columns:
                try:
                    column = columns.get(ImportField(error.field))
                except ValueError:
                    column = None
            self.rejected.append(Rejection(position, error.field, error.reason, column))

    def warnings(self, style: ReadingStyle, where: str = "row") -> list[str]:
        return self.notes + self.tally.messages(style, where)
