"""a gentle wait: callers wait in the line's queue while operators' phones ring by REST (#16)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import hotline.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_wait",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_session_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("enqueued_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("claimed_by_ring_id", sa.Integer(), nullable=True),
        sa.Column("bridged_ring_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_session_id"],
            ["call_session.id"],
            name=op.f("fk_operator_wait_call_session_id_call_session"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["line.id"], name=op.f("fk_operator_wait_line_id_line")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_wait")),
        sa.UniqueConstraint("call_session_id", "step", name="uq_operator_wait_call_step"),
    )
    with op.batch_alter_table("operator_wait", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operator_wait_call_session_id"), ["call_session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_operator_wait_line_id"), ["line_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_operator_wait_status"), ["status"], unique=False)

    op.create_table(
        "operator_ring",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wait_id", sa.Integer(), nullable=False),
        sa.Column("operator_index", sa.Integer(), nullable=False),
        sa.Column("call_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("placed_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_operator_ring_operator_id_operator")
        ),
        sa.ForeignKeyConstraint(
            ["wait_id"], ["operator_wait.id"], name=op.f("fk_operator_ring_wait_id_operator_wait")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_ring")),
        sa.UniqueConstraint("wait_id", "operator_index", name="uq_operator_ring_phone"),
    )
    with op.batch_alter_table("operator_ring", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operator_ring_call_sid"), ["call_sid"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_operator_ring_operator_id"), ["operator_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_operator_ring_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_operator_ring_wait_id"), ["wait_id"], unique=False)


def downgrade() -> None:
    op.drop_table("operator_ring")
    op.drop_table("operator_wait")
