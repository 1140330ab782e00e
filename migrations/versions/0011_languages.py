"""responses record the language they were answered in

Revision ID: 0011_languages
Revises: 0010_interviews
Create Date: 2026-11-26 21:20:00

A version's texts may be in several languages (ids and codes are shared, so answers mean the
same in each). ``responses.language`` is the BCP 47 tag of the texts the participant was
shown when they started the response; responses started before this revision have it empty
(every version published before it was in English only, so they were answered in en-GB).
The consent log's events name their language and text hash themselves, with no schema change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_languages"
down_revision: str | None = "0010_interviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("language", sa.String(length=35), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("language")
