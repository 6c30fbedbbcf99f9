"""security and privacy: staff sessions, blocked callers, retention (purged rows, daily runs)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 14:21:19

Staff who were logged in before this revision log in again: their cookies name no session.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import hotline.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "purge_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scheduled_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed", sa.JSON(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("claim", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("claimed_until", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["line_id"], ["line.id"], name=op.f("fk_purge_run_line_id_line")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purge_run")),
        sa.UniqueConstraint("line_id", "day", name="uq_purge_run_day"),
    )
    with op.batch_alter_table("purge_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purge_run_line_id"), ["line_id"], unique=False)

    op.create_table(
        "blocked_caller",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("caller_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("help_request_id", sa.Integer(), nullable=True),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("blocked_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blocked_by_id"],
            ["operator.id"],
            name=op.f("fk_blocked_caller_blocked_by_id_operator"),
        ),
        sa.ForeignKeyConstraint(
            ["help_request_id"],
            ["help_request.id"],
            name=op.f("fk_blocked_caller_help_request_id_help_request"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["line.id"], name=op.f("fk_blocked_caller_line_id_line")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocked_caller")),
        sa.UniqueConstraint("line_id", "caller_hash", name="uq_blocked_caller_line_caller"),
    )
    with op.batch_alter_table("blocked_caller", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_blocked_caller_caller_hash"), ["caller_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_blocked_caller_line_id"), ["line_id"], unique=False)

    op.create_table(
        "staff_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_staff_session_operator_id_operator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_session")),
    )
    with op.batch_alter_table("staff_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_session_operator_id"), ["operator_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_staff_session_token_hash"), ["token_hash"], unique=True
        )

    with op.batch_alter_table("call_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purged_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purged_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("forgotten_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_help_request_purged_at"), ["purged_at"], unique=False)

    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purged_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("volunteer_lead", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purged_at", hotline.models.UTCDateTime(timezone=True), nullable=True)
        )

    # The purge and "forget" look rows up by contact, caller and request: without these,
    # each of their batches would scan whole tables while holding the write lock.
    op.create_index(op.f("ix_help_request_contact_id"), "help_request", ["contact_id"])
    op.create_index(op.f("ix_volunteer_lead_caller_hash"), "volunteer_lead", ["caller_hash"])
    op.create_index(op.f("ix_volunteer_lead_contact_id"), "volunteer_lead", ["contact_id"])
    op.create_index(op.f("ix_call_session_contact_id"), "call_session", ["contact_id"])
    op.create_index(op.f("ix_call_session_help_request_id"), "call_session", ["help_request_id"])


def downgrade() -> None:
    for table, column in (
        ("call_session", "help_request_id"),
        ("call_session", "contact_id"),
        ("volunteer_lead", "contact_id"),
        ("volunteer_lead", "caller_hash"),
        ("help_request", "contact_id"),
    ):
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
    with op.batch_alter_table("volunteer_lead", schema=None) as batch_op:
        batch_op.drop_column("purged_at")

    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.drop_column("purged_at")

    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_help_request_purged_at"))
        batch_op.drop_column("forgotten_at")
        batch_op.drop_column("purged_at")

    with op.batch_alter_table("call_session", schema=None) as batch_op:
        batch_op.drop_column("purged_at")

    with op.batch_alter_table("staff_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_session_token_hash"))
        batch_op.drop_index(batch_op.f("ix_staff_session_operator_id"))

    op.drop_table("staff_session")
    with op.batch_alter_table("blocked_caller", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blocked_caller_line_id"))
        batch_op.drop_index(batch_op.f("ix_blocked_caller_caller_hash"))

    op.drop_table("blocked_caller")
    with op.batch_alter_table("purge_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purge_run_line_id"))

    op.drop_table("purge_run")
