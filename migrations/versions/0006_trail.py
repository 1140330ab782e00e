"""export manifests name staff by token id, never by label

Export manifests made before this revision hold the acting token's free-text label (which
may be a person's name) in ``actor``. Manifests are not hash-chained, so the label can be
removed: staff actors keep their token id, and the command line's actor becomes
``{"kind": "cli", "command": "export responses"}`` (the only command that made manifests).
The access and consent logs are immutable and hashed: their earlier entries stay as written.

Revision ID: 0006_trail
Revises: 0005
Create Date: 2026-11-26 14:55:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006_trail"
down_revision: str | None = "0006_erasure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_manifests = sa.table("export_manifests", sa.column("id", sa.Uuid()), sa.column("actor", sa.JSON()))


def actor_without_label(actor: dict[str, Any]) -> dict[str, Any]:
    """The actor as it is written from now on."""
    if actor.get("kind") == "operator":
        return {"kind": "cli", "command": "export responses"}
    return {key: value for key, value in actor.items() if key != "label"}


def upgrade() -> None:
    conn = op.get_bind()
    for manifest_id, actor in conn.execute(sa.select(_manifests.c.id, _manifests.c.actor)).all():
        fixed = actor_without_label(actor)
        if fixed != actor:
            conn.execute(
                _manifests.update().where(_manifests.c.id == manifest_id).values(actor=fixed)
            )


def downgrade() -> None:
    """Nothing to undo: the labels are gone on purpose and the shape is still valid."""
