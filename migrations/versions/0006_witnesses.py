"""witnesses, their approvals and checkpoint co-signatures; checkpoints become signed notes

Revision ID: 0006_witnesses
Revises: 0005
Create Date: 2026-11-26 14:55:00

Checkpoints were signed over the RFC 8785 JSON of {log, length, head_hash, time}; from this
revision they are signed over a C2SP-style note body (docs/audit-log.md). A signature in the
old form verifies under no verifier of the new form, and a migration cannot re-sign (it has
no keyring), so upgrade removes the checkpoint rows (the chain itself, which they only
vouched for, is untouched) and the service signs the head again on the next append that is
due or on `flask audit checkpoint`. Downgrade does the same the other way. No deployment held
checkpoints when this was written.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_witnesses"
down_revision: str | None = "0006_exports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TABLES = ("audit_witnesses", "witness_approvals", "checkpoint_cosignatures")


def _append_only(table: str) -> None:
    """The same second wall as the ledgers (0003): UPDATE and DELETE are refused."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION psam_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION psam_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'psam: {action} on {table} is refused: "
            "the table is append-only'); END"
        )


def _remove_checkpoints() -> None:
    """Delete every checkpoint row past the append-only guard, inside this transaction."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_checkpoints DISABLE TRIGGER ledger_checkpoints_append_only")
        op.execute("DELETE FROM ledger_checkpoints")
        op.execute("ALTER TABLE ledger_checkpoints ENABLE TRIGGER ledger_checkpoints_append_only")
        return
    op.execute("DROP TRIGGER ledger_checkpoints_no_delete")
    op.execute("DELETE FROM ledger_checkpoints")
    op.execute(
        "CREATE TRIGGER ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints "
        "BEGIN SELECT RAISE(ABORT, 'psam: DELETE on ledger_checkpoints is refused: "
        "the table is append-only'); END"
    )


def upgrade() -> None:
    _remove_checkpoints()
    op.create_table(
        "audit_witnesses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("registered_by", sa.Uuid(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_witnesses")),
        sa.UniqueConstraint("name", name=op.f("uq_audit_witnesses_name")),
        sa.UniqueConstraint("public_key", name=op.f("uq_audit_witnesses_public_key")),
    )
    op.create_table(
        "witness_approvals",
        sa.Column("witness_id", sa.Uuid(), nullable=False),
        sa.Column("approved_by", sa.Uuid(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["witness_id"],
            ["audit_witnesses.id"],
            name=op.f("fk_witness_approvals_witness_id_audit_witnesses"),
        ),
        sa.PrimaryKeyConstraint("witness_id", name=op.f("pk_witness_approvals")),
    )
    op.create_table(
        "checkpoint_cosignatures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("checkpoint_id", sa.Uuid(), nullable=False),
        sa.Column("witness_id", sa.Uuid(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["ledger_checkpoints.id"],
            name=op.f("fk_checkpoint_cosignatures_checkpoint_id_ledger_checkpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["witness_id"],
            ["audit_witnesses.id"],
            name=op.f("fk_checkpoint_cosignatures_witness_id_audit_witnesses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoint_cosignatures")),
        sa.UniqueConstraint(
            "checkpoint_id",
            "witness_id",
            name=op.f("uq_checkpoint_cosignatures_checkpoint_id_witness_id"),
        ),
    )
    for table in NEW_TABLES:
        _append_only(table)


def downgrade() -> None:
    # Dropping a table drops its triggers. Co-signatures go first (they refer to checkpoints),
    # then the checkpoints signed as notes, which the JSON-signing code could not verify.
    for table in reversed(NEW_TABLES):
        op.drop_table(table)
    _remove_checkpoints()
