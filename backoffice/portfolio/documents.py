"""Identity documents (DNI, NIF, CPF, ...): kept as last four characters and a keyed digest.

The full number is never stored, logged or returned. What is kept is enough for the
two things parley does with it: show "···5678" to an operator or a debtor, and check
a number someone says or types (identity verification) by computing the digest of
what was given and comparing.

The digest is HMAC-SHA256 under the server's ``PARLEY_SECRET_KEY``: a plain hash of
an 8-digit DNI could be reversed by hashing all hundred million of them; a keyed one
cannot without the key. Numbers are canonicalised first (letters and digits only,
upper case), so "12.345.678-Z" and "12345678z" are the same document.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from backoffice.portfolio.normalize import Cell, NormalizationError, cell_text

MIN_LENGTH = 5  # shorter, and the last four would be (nearly) the whole number
MAX_LENGTH = 32
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_DOMAIN = b"parley-document-v1:"


@dataclass(frozen=True, slots=True)
class DocumentFingerprint:
    last4: str
    digest: str

    def __repr__(self) -> str:  # the digest is not secret, but keep logs short
        return f"DocumentFingerprint(last4={self.last4!r})"

    def __reduce__(self) -> tuple[type[DocumentFingerprint], tuple[str, str]]:
        return DocumentFingerprint, (self.last4, self.digest)  # fast, see records._by_fields


def canonical_document(value: Cell) -> str:
    """Letters and digits of a document number, upper case.

    Raises:
        NormalizationError: empty, too short or too long to be a document number.
    """
    text = cell_text(value)
    if text is None:
        raise NormalizationError("empty")
    canonical = _NOT_ALNUM.sub("", text.upper())
    if len(canonical) < MIN_LENGTH:
        raise NormalizationError(
            f"too short to be a document number (needs at least {MIN_LENGTH} letters or digits)"
        )
    if len(canonical) > MAX_LENGTH:
        raise NormalizationError(f"too long to be a document number (over {MAX_LENGTH})")
    return canonical


def document_digest(value: Cell, key: bytes) -> str:
    """The keyed digest to store, or to compare with a stored one (hex, 64 characters).

    Raises:
        NormalizationError: as :func:`canonical_document`.
    """
    canonical = canonical_document(value)
    return hmac.new(key, _DOMAIN + canonical.encode(), hashlib.sha256).hexdigest()


def fingerprint_document(value: Cell, key: bytes) -> DocumentFingerprint:
    """What is stored of a document: its last four characters and its digest.

    Raises:
        NormalizationError: as :func:`canonical_document`; the reason never quotes
            the number.
    """
    canonical = canonical_document(value)
    digest = hmac.new(key, _DOMAIN + canonical.encode(), hashlib.sha256).hexdigest()
    return DocumentFingerprint(canonical[-4:], digest)


def matches_document(value: Cell, digest: str, key: bytes) -> bool:
    """Whether ``value`` is the document whose digest is ``digest`` (constant time)."""
    try:
        return hmac.compare_digest(document_digest(value, key), digest)
    except NormalizationError:
        return False
