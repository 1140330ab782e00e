"""alerts carry their reasons encrypted; responses the consent version they were given under

Revision ID: 0008_amendment
Revises: 0007_web_epoch
Create Date: 2026-11-26 18:00:00

One alert per participant, timepoint and severity can now carry several reasons (PHQ-9
item 9 and EPDS item 10 at one timepoint are one alert). The reasons are ciphertext under
the participant's data key, so a database dump does not show which answer raised an alert;
``rule_id`` holds a fixed word for new rows. A migration has no keyring, so rows raised
before this revision keep their plaintext ``rule_id`` (the service reads it when
``reasons`` is empty); no deployment held alerts when this was written.

``responses.consent_version`` is the consent form version in force for the participant when
they submitted (the one they signed, which under a "may continue" amendment can be older than
the newest); for responses submitted before this revision it is empty, and the consent log
says which signature was in force at their ``submitted_at``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_amendment"
down_revision: str | None = "0007_web_epoch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("reasons", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("consent_version", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("consent_version")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("reasons")
