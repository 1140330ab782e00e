"""export manifests

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 18:13:00.604102
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "export_manifests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_manifests")),
    )
    with op.batch_alter_table("export_manifests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_export_manifests_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("export_manifests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_manifests_created_at"))

    op.drop_table("export_manifests")
