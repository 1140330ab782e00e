"""Revision 0006_trail removes token labels from export manifests made before it."""

import datetime as dt
import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import JSON, Uuid, column, create_engine, select, table

from service.migrate import alembic_config
from service.models import ExportManifest
from tests.conftest import fresh_database


def test_upgrading_removes_labels_from_earlier_export_manifests(tmp_path: Path) -> None:
    url = fresh_database("psam_trail_migration_test", tmp_path)
    cfg = alembic_config(url)
    command.upgrade(cfg, "0005")
    staff, cli = uuid.uuid4(), uuid.uuid4()
    token_id = str(uuid.uuid4())
    actors = {
        staff: {"kind": "staff", "token_id": token_id, "label": "Canary Jane Doe"},
        cli: {"kind": "operator", "label": "command line"},
    }
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for manifest_id, actor in actors.items():
                conn.execute(
                    ExportManifest.__table__.insert().values(
                        id=manifest_id,
                        actor=actor,
                        created_at=dt.datetime.now(dt.UTC),
                        status="complete",
                        filters={},
                        versions=[],
                        format="csv",
                    )
                )
        command.upgrade(cfg, "0006_trail")
        manifests = table("export_manifests", column("id", Uuid()), column("actor", JSON()))
        with engine.connect() as conn:
            found = dict(conn.execute(select(manifests.c.id, manifests.c.actor)).all())
    finally:
        engine.dispose()
    assert found == {
        staff: {"kind": "staff", "token_id": token_id},
        cli: {"kind": "cli", "command": "export responses"},
    }
