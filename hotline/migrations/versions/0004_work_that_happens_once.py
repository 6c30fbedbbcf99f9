"""work that happens once: outbox completion, SMS handed to the provider, call-backs claimed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hotline.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("completed_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_outbox_completed_at"), ["completed_at"], unique=False)
    # Work relayed before this revision ran long ago: it must not look lost to the sweep.
    op.execute("UPDATE outbox SET completed_at = enqueued_at WHERE enqueued_at IS NOT NULL")
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("submitted_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("operator", schema=None) as batch_op:
        batch_op.add_column(sa.Column("call_back_request_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("call_back_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("operator", schema=None) as batch_op:
        batch_op.drop_column("call_back_at")
        batch_op.drop_column("call_back_request_id")
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.drop_column("submitted_at")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_completed_at"))
        batch_op.drop_column("completed_at")
