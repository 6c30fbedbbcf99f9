"""queue and suggestions at a crisis's scale: the queue's order as a generated column, and
indexes that serve the queue and the suggestions (#15)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 09:30:00

``help_request.queue_rank`` is computed by the database (hotline.models.QUEUE_RANK_SQL).
SQLite cannot add a STORED generated column to a table that exists, only a VIRTUAL one;
an index on it stores its values all the same, so the queue reads the same on both.
PostgreSQL (before 18) knows only STORED ones: adding it rewrites the table once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# hotline.models.QUEUE_RANK_SQL as it was at this revision (a later change needs its own).
QUEUE_RANK_SQL = (
    "(CASE WHEN status NOT IN ('new', 'triaged', 'assigned', 'accepted') THEN 4"
    " WHEN no_volunteer_at IS NOT NULL THEN 0 ELSE 2 END)"
    " + (CASE WHEN urgency = 'today' THEN 0 ELSE 1 END)"
)
QUEUE_INDEXES = {
    "ix_help_request_queue": ["queue_rank", "created_at", "id"],
    "ix_help_request_line_queue": ["line_id", "queue_rank", "created_at", "id"],
    "ix_help_request_status_queue": ["status", "queue_rank", "created_at", "id"],
    "ix_help_request_source_queue": ["source", "created_at", "id"],
}
VOLUNTEER_INDEXES = {
    "ix_volunteer_line_postcode_name": ["line_id", "postcode", "name", "id"],
    "ix_volunteer_line_name": ["line_id", "name", "id"],
}


def upgrade() -> None:
    stored = op.get_bind().dialect.name != "sqlite"
    # Not in batch mode: SQLite adds a virtual column in place (no copy of the table).
    op.add_column(
        "help_request",
        sa.Column("queue_rank", sa.Integer(), sa.Computed(QUEUE_RANK_SQL, persisted=stored)),
    )
    for name, columns in QUEUE_INDEXES.items():
        op.create_index(name, "help_request", columns, unique=False)
    for name, columns in VOLUNTEER_INDEXES.items():
        op.create_index(name, "volunteer", columns, unique=False)


def downgrade() -> None:
    for name in VOLUNTEER_INDEXES:
        op.drop_index(name, table_name="volunteer")
    for name in QUEUE_INDEXES:
        op.drop_index(name, table_name="help_request")
    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.drop_column("queue_rank")
