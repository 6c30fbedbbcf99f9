"""queue and suggestions at a crisis's scale: indexes for the operators' queue, volunteers'
skills and languages as columns the suggestions query (#15)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 09:30:00
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by the next commits of #15


def downgrade() -> None:
    pass
