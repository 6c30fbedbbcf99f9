"""the first tables: lines, contact vault, help requests, volunteer leads, call sessions, outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-26 16:38:36.001058
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import hotline.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caller_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("encrypted_number", sa.Text(), nullable=False),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_caller_hash"), ["caller_hash"], unique=True)

    op.create_table(
        "line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("phone_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_line_slug"), ["slug"], unique=True)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("job", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_enqueued_at"), ["enqueued_at"], unique=False)

    op.create_table(
        "help_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("postcode", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("urgency", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("recording_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("caller_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("call_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("announced_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["line.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_sid"),
        sa.UniqueConstraint("line_id", "reference", name="uq_help_request_reference"),
    )
    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_help_request_caller_hash"), ["caller_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_help_request_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_help_request_line_id"), ["line_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_help_request_status"), ["status"], unique=False)

    op.create_table(
        "volunteer_lead",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("recording_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("caller_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("call_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["line.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_sid"),
    )
    with op.batch_alter_table("volunteer_lead", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteer_lead_line_id"), ["line_id"], unique=False)

    op.create_table(
        "call_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("last_response", sa.Text(), nullable=False),
        sa.Column("help_request_id", sa.Integer(), nullable=True),
        sa.Column("started_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("last_node", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
        ),
        sa.ForeignKeyConstraint(
            ["help_request_id"],
            ["help_request.id"],
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["line.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("call_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_session_call_sid"), ["call_sid"], unique=True)
        batch_op.create_index(batch_op.f("ix_call_session_line_id"), ["line_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("call_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_session_line_id"))
        batch_op.drop_index(batch_op.f("ix_call_session_call_sid"))

    op.drop_table("call_session")
    with op.batch_alter_table("volunteer_lead", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_lead_line_id"))

    op.drop_table("volunteer_lead")
    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_help_request_status"))
        batch_op.drop_index(batch_op.f("ix_help_request_line_id"))
        batch_op.drop_index(batch_op.f("ix_help_request_created_at"))
        batch_op.drop_index(batch_op.f("ix_help_request_caller_hash"))

    op.drop_table("help_request")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_enqueued_at"))

    op.drop_table("outbox")
    with op.batch_alter_table("line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_line_slug"))

    op.drop_table("line")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_caller_hash"))

    op.drop_table("contact")
