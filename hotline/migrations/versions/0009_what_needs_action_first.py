"""what needs action first: the queue's rank puts what an operator must act on before what
is in hand (#11)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 13:30:00

``help_request.queue_rank`` (hotline.models.QUEUE_RANK_SQL) now has four groups: stuck
(no volunteer found, an offer that fell through, a volunteer who never reported done),
to do (new, triaged), in hand (offered, accepted) and closed; urgent ones first in each.
A generated column's expression cannot be changed in place on SQLite (nor on PostgreSQL
before 17): the column and the indexes holding it are dropped and made again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# hotline.models.QUEUE_RANK_SQL as it is at this revision (a later change needs its own).
QUEUE_RANK_SQL = (
    "(CASE WHEN status NOT IN ('new', 'triaged', 'assigned', 'accepted') THEN 6"
    " WHEN no_volunteer_at IS NOT NULL OR follow_up_at IS NOT NULL"
    " OR (status = 'triaged' AND assigned_at IS NOT NULL) THEN 0"
    " WHEN status IN ('new', 'triaged') THEN 2 ELSE 4 END)"
    " + (CASE WHEN urgency = 'today' THEN 0 ELSE 1 END)"
)
# The rank at revision 0006, for the way back.
PREVIOUS_QUEUE_RANK_SQL = (
    "(CASE WHEN status NOT IN ('new', 'triaged', 'assigned', 'accepted') THEN 4"
    " WHEN no_volunteer_at IS NOT NULL THEN 0 ELSE 2 END)"
    " + (CASE WHEN urgency = 'today' THEN 0 ELSE 1 END)"
)
RANKED_INDEXES = {
    "ix_help_request_queue": ["queue_rank", "created_at", "id"],
    "ix_help_request_line_queue": ["line_id", "queue_rank", "created_at", "id"],
    "ix_help_request_status_queue": ["status", "queue_rank", "created_at", "id"],
}


def _rank_as(expression: str) -> None:
    stored = op.get_bind().dialect.name != "sqlite"
    for name in RANKED_INDEXES:
        op.drop_index(name, table_name="help_request")
    # Not in batch mode: SQLite drops and adds a virtual column in place (no table copy).
    op.drop_column("help_request", "queue_rank")
    op.add_column(
        "help_request",
        sa.Column("queue_rank", sa.Integer(), sa.Computed(expression, persisted=stored)),
    )
    for name, columns in RANKED_INDEXES.items():
        op.create_index(name, "help_request", columns, unique=False)


def upgrade() -> None:
    _rank_as(QUEUE_RANK_SQL)


def downgrade() -> None:
    _rank_as(PREVIOUS_QUEUE_RANK_SQL)
