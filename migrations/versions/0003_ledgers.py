"""consent log, access log, checkpoints, participant tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 17:37:33.634295
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


LEDGER_TABLES = ("consent_log", "access_log", "ledger_checkpoints")


def _create_append_only_guards() -> None:
    """The database itself refuses UPDATE and DELETE on the ledgers: a second wall."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION psam_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'psam: % on % is refused: the table is append-only', "
            "TG_OP, TG_TABLE_NAME; END $$"
        )
        for table in LEDGER_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION psam_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION psam_append_only()"
            )
        return
    for table in LEDGER_TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'psam: {action} on {table} is refused: "
                "the table is append-only'); END"
            )


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("study_id", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_access_log_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_access_log_prev_hash")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_log_recorded_at"), ["recorded_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_access_log_study_id"), ["study_id"], unique=False)

    op.create_table(
        "consent_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("study_id", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_consent_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_consent_log_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_consent_log_prev_hash")),
    )
    with op.batch_alter_table("consent_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_log_recorded_at"), ["recorded_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_consent_log_study_id"), ["study_id"], unique=False)

    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("log", sa.String(length=16), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("time", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
        sa.UniqueConstraint("log", "length", name=op.f("uq_ledger_checkpoints_log_length")),
    )
    op.create_table(
        "participant_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("study_id", sa.String(length=16), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["participants.study_id"],
            name=op.f("fk_participant_tokens_study_id_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_participant_tokens_token_sha256")),
    )
    with op.batch_alter_table("participant_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participant_tokens_study_id"), ["study_id"], unique=False
        )

    _create_append_only_guards()


def downgrade() -> None:
    # Dropping a table drops its triggers; the PostgreSQL function goes after the tables.
    with op.batch_alter_table("participant_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participant_tokens_study_id"))

    op.drop_table("participant_tokens")
    op.drop_table("ledger_checkpoints")
    with op.batch_alter_table("consent_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_log_study_id"))
        batch_op.drop_index(batch_op.f("ix_consent_log_recorded_at"))

    op.drop_table("consent_log")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_log_study_id"))
        batch_op.drop_index(batch_op.f("ix_access_log_recorded_at"))

    op.drop_table("access_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION psam_append_only()")
