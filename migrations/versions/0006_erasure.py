"""erasure: purge bookkeeping on participants, receipts of erasures for idempotent retries

Revision ID: 0006_erasure
Revises: 0005
Create Date: 2026-11-26 14:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_erasure"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("erasure_xid", sa.BigInteger(), nullable=True))
    # Erasures made before this revision have erased_at and no purged_at: they count as
    # pending, so the first `erasure purge` clears what they left in the files.
    op.create_table(
        "erasure_receipts",
        sa.Column("study_id", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["participants.study_id"],
            name=op.f("fk_erasure_receipts_study_id_participants"),
        ),
        sa.PrimaryKeyConstraint("study_id", "key", name=op.f("pk_erasure_receipts")),
    )


def downgrade() -> None:
    op.drop_table("erasure_receipts")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("erasure_xid")
        batch.drop_column("purged_at")
