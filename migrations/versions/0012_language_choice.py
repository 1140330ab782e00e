"""the language a participant chose for the pages

Revision ID: 0012_language_choice
Revises: 0011_languages
Create Date: 2026-11-26 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_language_choice"
down_revision: str | None = "0011_languages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "language_choices",
        sa.Column("study_id", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["participants.study_id"],
            name=op.f("fk_language_choices_study_id_participants"),
        ),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_language_choices")),
    )


def downgrade() -> None:
    op.drop_table("language_choices")
