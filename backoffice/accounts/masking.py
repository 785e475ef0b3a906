"""How a document number is shown: its last four digits and nothing else.

The store only keeps ``document_last4`` readable (plus a digest for matching a full
number), but the masking still trims to four characters, so that a row written by
mistake with more digits is not shown whole either.
"""

from __future__ import annotations

MASK = "••••"


def mask_document(last4: str | None) -> str | None:
    """``"1234"`` -> ``"•••• 1234"``; no document -> ``None``."""
    if not last4:
        return None
    return f"{MASK} {last4.strip()[-4:]}"
