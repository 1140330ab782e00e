"""staff console sessions: the time a sign-out ended a token's console sessions

Revision ID: 0007_staff_sessions
Revises: 0006_witnesses
Create Date: 2026-11-26 18:10:00

The console's session cookie is signed, not stored; "Sign out" records the time on the
token's row, and a cookie issued before it is refused, so a copied cookie dies too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_staff_sessions"
down_revision: str | None = "0006_witnesses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_tokens") as batch:
        batch.add_column(sa.Column("sessions_ended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_tokens") as batch:
        batch.drop_column("sessions_ended_at")
