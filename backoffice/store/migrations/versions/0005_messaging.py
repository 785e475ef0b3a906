"""messaging: messages, delivery events, WhatsApp windows, email domains (issue 6)

Revision ID: 0005_messaging
Revises: 0004_call_tools
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005_messaging"
down_revision: str | None = "0004_call_tools"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
