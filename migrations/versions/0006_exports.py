"""export manifests record the rows they skipped

Revision ID: 0006_exports
Revises: 0005
Create Date: 2026-11-26 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_exports"
down_revision: str | None = "0006_trail"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("export_manifests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("skipped_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("skipped", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_manifests", schema=None) as batch_op:
        batch_op.drop_column("skipped")
        batch_op.drop_column("skipped_count")
