"""calls that operators answer, masked connections

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hotline.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answered_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("answered_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("dismissed_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("bridged_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_call_session_answered_by_id"), ["answered_by_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_call_session_answered_by_id_operator"),
            "operator",
            ["answered_by_id"],
            ["id"],
        )
    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteer_contact_id"), ["contact_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_contact_id"))
    with op.batch_alter_table("call_session", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_call_session_answered_by_id_operator"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_call_session_answered_by_id"))
        batch_op.drop_column("bridged_at")
        batch_op.drop_column("dismissed_at")
        batch_op.drop_column("answered_at")
        batch_op.drop_column("answered_by_id")
