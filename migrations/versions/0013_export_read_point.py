"""export manifests: which database an export read from, and up to when its rows are complete

Revision ID: 0013_export_read_point
Revises: 0012_language_choice
Create Date: 2026-11-26 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_export_read_point"
down_revision: str | None = "0012_language_choice"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("export_manifests") as batch:
        batch.add_column(sa.Column("read_from", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("data_as_of", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_manifests") as batch:
        batch.drop_column("data_as_of")
        batch.drop_column("read_from")
