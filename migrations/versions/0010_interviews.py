"""interviews: invitations, time slots, and their encrypted recordings and transcripts

Revision ID: 0010_interviews
Revises: 0009_outbox
Create Date: 2026-11-26 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_interviews"
down_revision: str | None = "0009_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interview_slots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("interviewer_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["interviewer_id"],
            ["staff_tokens.id"],
            name=op.f("fk_interview_slots_interviewer_id_staff_tokens"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_slots")),
    )
    op.create_index(op.f("ix_interview_slots_starts_at"), "interview_slots", ["starts_at"])
    op.create_table(
        "interviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("study_id", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_id", sa.Uuid(), nullable=True),
        sa.Column("cancel_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["participants.study_id"],
            name=op.f("fk_interviews_study_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["interview_slots.id"], name=op.f("fk_interviews_slot_id_interview_slots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interviews")),
        sa.UniqueConstraint("slot_id", name=op.f("uq_interviews_slot_id")),
    )
    op.create_index(op.f("ix_interviews_study_id"), "interviews", ["study_id"])
    op.create_table(
        "interview_files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("interview_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.Uuid(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_by", sa.Uuid(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_interview_files_interview_id_interviews"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_files")),
        sa.UniqueConstraint(
            "interview_id", "kind", name=op.f("uq_interview_files_interview_id_kind")
        ),
    )
    op.create_table(
        "interview_chunks",
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["interview_files.id"],
            name=op.f("fk_interview_chunks_file_id_interview_files"),
        ),
        sa.PrimaryKeyConstraint("file_id", "idx", name=op.f("pk_interview_chunks")),
    )


def downgrade() -> None:
    op.drop_table("interview_chunks")
    op.drop_table("interview_files")
    op.drop_index(op.f("ix_interviews_study_id"), table_name="interviews")
    op.drop_table("interviews")
    op.drop_index(op.f("ix_interview_slots_starts_at"), table_name="interview_slots")
    op.drop_table("interview_slots")
