"""volunteer sign-up: people who sign up on the line's public page, and their SMS code (#13)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 18:05:00

``volunteer_application`` holds a sign-up until a coordinator approves it (it then becomes
a ``volunteer``) or rejects it; its number is in the vault like every number, and a number
signs up once per line (the vault's keyed hash, unique per line). ``sms_message`` gets
``application_id``: the confirmation code and the answer to a sign-up go through the same
outbox and SMS job as every other text, to someone who is no volunteer yet.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import hotline.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = hotline.models.UTCDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "volunteer_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("status", _text(16), nullable=False),
        sa.Column("name", _text(120), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("caller_hash", _text(64), nullable=False),
        sa.Column("postcode", _text(8), nullable=False),
        sa.Column("language", _text(8), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("availability", sa.JSON(), nullable=False),
        sa.Column("has_car", sa.Boolean(), nullable=False),
        sa.Column("safety_version", _text(80), nullable=False),
        sa.Column("safety_accepted_at", WHEN, nullable=True),
        sa.Column("insurance_read_at", WHEN, nullable=True),
        sa.Column("insurance_registered_at", WHEN, nullable=True),
        sa.Column("code_hash", _text(64), nullable=True),
        sa.Column("code_expires_at", WHEN, nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("codes_sent", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", WHEN, nullable=True),
        sa.Column("volunteer_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_volunteer_application_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["operator.id"],
            name=op.f("fk_volunteer_application_decided_by_id_operator"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["line.id"], name=op.f("fk_volunteer_application_line_id_line")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteer.id"],
            name=op.f("fk_volunteer_application_volunteer_id_volunteer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_application")),
        sa.UniqueConstraint("line_id", "caller_hash", name="uq_volunteer_application_caller"),
    )
    with op.batch_alter_table("volunteer_application", schema=None) as batch_op:
        for column in ("contact_id", "created_at", "line_id", "status"):
            batch_op.create_index(
                batch_op.f(f"ix_volunteer_application_{column}"), [column], unique=False
            )
    # Batch mode: SQLite adds a foreign key only by copying the table.
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("application_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_sms_message_application_id"), ["application_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_sms_message_application_id_volunteer_application"),
            "volunteer_application",
            ["application_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_sms_message_application_id_volunteer_application"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_sms_message_application_id"))
        batch_op.drop_column("application_id")
    with op.batch_alter_table("volunteer_application", schema=None) as batch_op:
        for column in ("contact_id", "created_at", "line_id", "status"):
            batch_op.drop_index(batch_op.f(f"ix_volunteer_application_{column}"))
    op.drop_table("volunteer_application")
