"""agent tools and call context: tool-call idempotency, interaction timeline, identity checks, post-call outcomes (issue 4)

Revision ID: 0004_call_tools
Revises: 0003_dnc
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004_call_tools"
down_revision: str | None = "0003_dnc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
