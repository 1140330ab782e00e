"""participant tokens gain a session epoch, so that signing out ends copied web sessions

Revision ID: 0007_web_epoch
Revises: 0007_staff_sessions
Create Date: 2026-11-26 17:45:00

A web session cookie is signed, not stored; it names the epoch of its token that it began
in, and the service refuses it once the token's epoch has moved on (sign-out, a new link,
erasure). Existing tokens start at epoch 0, as do the cookies issued before this revision
(they carry no epoch), so nobody is signed out by the upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_web_epoch"
down_revision: str | None = "0007_staff_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participant_tokens") as batch:
        batch.add_column(
            sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("participant_tokens") as batch:
        batch.drop_column("session_epoch")
