"""the notification outbox, reminder choices, and expiring participant tokens

Revision ID: 0009_outbox
Revises: 0008_amendment
Create Date: 2026-11-26 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_outbox"
down_revision: str | None = "0008_amendment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("study_id", sa.String(length=16), nullable=True),
        sa.Column("timepoint", sa.String(length=32), nullable=True),
        sa.Column("alert_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("token_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notifications_dedupe_key")),
    )
    op.create_index(op.f("ix_notifications_due_at"), "notifications", ["due_at"])
    op.create_index(op.f("ix_notifications_study_id"), "notifications", ["study_id"])
    op.create_table(
        "reminder_choices",
        sa.Column("study_id", sa.String(length=16), nullable=False),
        sa.Column("by_email", sa.Boolean(), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["participants.study_id"],
            name=op.f("fk_reminder_choices_study_id_participants"),
        ),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_reminder_choices")),
    )
    with op.batch_alter_table("participant_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("participant_tokens") as batch:
        batch.drop_column("expires_at")
    op.drop_table("reminder_choices")
    op.drop_index(op.f("ix_notifications_study_id"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_due_at"), table_name="notifications")
    op.drop_table("notifications")
