"""who is calling, at a crisis's scale: indexes for the first webhook's question (#15)

Every call's first webhook asks whether the caller is one of the line's volunteers or
has a request in hand. With only one-column indexes to choose from, SQLite's planner
took ``help_request.line_id`` and read every request of the line (33 ms a call at
100,000 requests); these indexes match all of the question's columns.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 11:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_help_request_caller_line_status",
        "help_request",
        ["caller_hash", "line_id", "status"],
    )
    op.create_index("ix_volunteer_contact_line", "volunteer", ["contact_id", "line_id"])


def downgrade() -> None:
    op.drop_index("ix_volunteer_contact_line", table_name="volunteer")
    op.drop_index("ix_help_request_caller_line_status", table_name="help_request")
