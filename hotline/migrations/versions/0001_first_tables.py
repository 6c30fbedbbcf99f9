"""the first tables: lines, vault, help requests, calls, outbox, operators, volunteers, assignments, audit log

Revision ID: 0001
Revises:
Create Date: 2026-11-26 17:49:47.263391
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line")),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
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
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("announced_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_help_request_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["help_request.id"],
            name=op.f("fk_help_request_duplicate_of_id_help_request"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["line.id"], name=op.f("fk_help_request_line_id_line")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_request")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_help_request_call_sid")),
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
        "operator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_operator_contact_id_contact")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator")),
    )
    with op.batch_alter_table("operator", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operator_username"), ["username"], unique=True)

    op.create_table(
        "volunteer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("postcode", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("availability", sa.JSON(), nullable=False),
        sa.Column("has_car", sa.Boolean(), nullable=False),
        sa.Column("safety_accepted_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "insurance_registered_at", hotline.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_volunteer_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(["line_id"], ["line.id"], name=op.f("fk_volunteer_line_id_line")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer")),
    )
    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteer_line_id"), ["line_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_volunteer_postcode"), ["postcode"], unique=False)

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
            ["contact_id"], ["contact.id"], name=op.f("fk_volunteer_lead_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["line.id"], name=op.f("fk_volunteer_lead_line_id_line")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_lead")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_volunteer_lead_call_sid")),
    )
    with op.batch_alter_table("volunteer_lead", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteer_lead_line_id"), ["line_id"], unique=False)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_api_token_operator_id_operator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_token_hash"), ["token_hash"], unique=True)

    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("help_request_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responded_at", hotline.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"], ["operator.id"], name=op.f("fk_assignment_assigned_by_id_operator")
        ),
        sa.ForeignKeyConstraint(
            ["help_request_id"],
            ["help_request.id"],
            name=op.f("fk_assignment_help_request_id_help_request"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteer.id"], name=op.f("fk_assignment_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment")),
    )
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assignment_help_request_id"), ["help_request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_assignment_volunteer_id"), ["volunteer_id"], unique=False
        )

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("help_request_id", sa.Integer(), nullable=True),
        sa.Column("volunteer_id", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", hotline.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["help_request_id"],
            ["help_request.id"],
            name=op.f("fk_audit_event_help_request_id_help_request"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_audit_event_operator_id_operator")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteer.id"], name=op.f("fk_audit_event_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_event_help_request_id"), ["help_request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_event_volunteer_id"), ["volunteer_id"], unique=False
        )

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
            ["contact_id"], ["contact.id"], name=op.f("fk_call_session_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(
            ["help_request_id"],
            ["help_request.id"],
            name=op.f("fk_call_session_help_request_id_help_request"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["line.id"], name=op.f("fk_call_session_line_id_line")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_session")),
    )
    with op.batch_alter_table("call_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_session_call_sid"), ["call_sid"], unique=True)
        batch_op.create_index(batch_op.f("ix_call_session_line_id"), ["line_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("call_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_session_line_id"))
        batch_op.drop_index(batch_op.f("ix_call_session_call_sid"))

    op.drop_table("call_session")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_help_request_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_created_at"))

    op.drop_table("audit_event")
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_assignment_help_request_id"))

    op.drop_table("assignment")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_token_hash"))

    op.drop_table("api_token")
    with op.batch_alter_table("volunteer_lead", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_lead_line_id"))

    op.drop_table("volunteer_lead")
    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_postcode"))
        batch_op.drop_index(batch_op.f("ix_volunteer_line_id"))

    op.drop_table("volunteer")
    with op.batch_alter_table("operator", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_username"))

    op.drop_table("operator")
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
