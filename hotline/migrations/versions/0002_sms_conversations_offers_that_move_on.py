"""sms conversations, offers that move on

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 08:53:43.483260
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import hotline.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "sms_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("volunteer_id", sa.Integer(), nullable=True),
        sa.Column("help_request_id", sa.Integer(), nullable=True),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("message_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignment.id"],
            name=op.f("fk_sms_message_assignment_id_assignment"),
        ),
        sa.ForeignKeyConstraint(
            ["help_request_id"],
            ["help_request.id"],
            name=op.f("fk_sms_message_help_request_id_help_request"),
        ),
        sa.ForeignKeyConstraint(["line_id"], ["line.id"], name=op.f("fk_sms_message_line_id_line")),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteer.id"], name=op.f("fk_sms_message_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_message")),
        sa.UniqueConstraint("message_sid", name=op.f("uq_sms_message_message_sid")),
    )
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sms_message_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sms_message_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sms_message_help_request_id"), ["help_request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sms_message_volunteer_id"), ["volunteer_id"], unique=False
        )

    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reminded_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_assignment_status"), ["status"], unique=False)

    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("no_volunteer_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("follow_up_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_help_request_follow_up_at"), ["follow_up_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_help_request_no_volunteer_at"), ["no_volunteer_at"], unique=False
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("run_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sms_opted_out_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:

    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.drop_column("sms_opted_out_at")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("run_at")

    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_help_request_no_volunteer_at"))
        batch_op.drop_index(batch_op.f("ix_help_request_follow_up_at"))
        batch_op.drop_column("follow_up_at")
        batch_op.drop_column("no_volunteer_at")

    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_status"))
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("expires_at")

    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_message_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_sms_message_help_request_id"))
        batch_op.drop_index(batch_op.f("ix_sms_message_created_at"))
        batch_op.drop_index(batch_op.f("ix_sms_message_assignment_id"))

    op.drop_table("sms_message")
