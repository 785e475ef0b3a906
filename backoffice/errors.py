"""The errors backoffice services raise; the API turns each into one HTTP status."""

from __future__ import annotations

from dataclasses import dataclass


class BackofficeError(Exception):
    status = 400


class NotFound(BackofficeError):
    """The thing does not exist, or belongs to another organization (same answer)."""

    status = 404

    def __init__(self, entity: str) -> None:
        super().__init__(f"{entity} not found")
        self.entity = entity


class Conflict(BackofficeError):
    status = 409


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str


class InvalidInput(BackofficeError):
    """Input that names the fields at fault and why."""

    status = 422

    def __init__(self, errors: list[FieldError], message: str = "invalid input") -> None:
        super().__init__(message + ": " + "; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.message = message
        self.errors = errors


class MalformedBody(InvalidInput):
    """The body is not even JSON (or not the expected media type)."""

    status = 400
