"""participants, data keys, identity vault

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:27:17.794141
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    kek_primary = op.create_table(
        "kek_primary",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kek_primary")),
    )
    # The one row that data key creation locks FOR SHARE and a rotation updates.
    op.bulk_insert(kek_primary, [{"id": 1, "kek_id": None}])
    op.create_table(
        "participants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("study_id", sa.String(length=16), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
        sa.UniqueConstraint("study_id", name=op.f("uq_participants_study_id")),
    )
    op.create_table(
        "data_keys",
        sa.Column("study_id", sa.String(length=16), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"], ["participants.study_id"], name=op.f("fk_data_keys_study_id_participants")
        ),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_data_keys")),
    )
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_keys_kek_id"), ["kek_id"], unique=False)

    op.create_table(
        "identity_values",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("study_id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["participants.study_id"],
            name=op.f("fk_identity_values_study_id_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_values")),
    )
    with op.batch_alter_table("identity_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_values_study_id"), ["study_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("identity_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_values_study_id"))

    op.drop_table("identity_values")
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_keys_kek_id"))

    op.drop_table("data_keys")
    op.drop_table("participants")
    op.drop_table("kek_primary")
