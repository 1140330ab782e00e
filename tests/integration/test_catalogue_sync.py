"""Syncing definition files into the catalogue: new versions added, changed ones refused."""

import json
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import InstrumentVersion
from service.services.catalogue import current_consent_form, sync_definitions
from service.services.definitions import load_definitions


def bump(folder: Path, instrument: str, new_version: str, **changes: object) -> None:
    data = json.loads((folder / instrument / "1.0.0.json").read_text())
    data.update(version=new_version, **changes)
    (folder / instrument / f"{new_version}.json").write_text(json.dumps(data, indent=2))


def test_syncing_the_same_files_again_changes_nothing(
    session: Session, instruments_copy: Path
) -> None:
    report = sync_definitions(session, load_definitions(instruments_copy))
    assert report.added == [] and report.refused == []
    # 15 definitions (1.0.0 and amendment 1.1's new versions), 6 Welsh versions (about-you
    # and peer-support 1.0.1 and 1.1.1, follow-up 1.0.1, consent 1.1.1), 4 protocol versions
    assert len(report.unchanged) == 25


def test_a_new_version_file_is_added_beside_the_old(
    session: Session, instruments_copy: Path
) -> None:
    bump(instruments_copy, "gad-7", "1.2.0", title="GAD-7, revised")
    report = sync_definitions(session, load_definitions(instruments_copy))
    assert report.added == ["gad-7 1.2.0"]
    versions = session.scalars(
        select(InstrumentVersion.version).where(InstrumentVersion.instrument_id == "gad-7")
    ).all()
    assert sorted(versions) == ["1.0.0", "1.1.0", "1.2.0"]


def test_one_changed_character_in_a_published_file_refuses_the_whole_sync(
    session: Session, instruments_copy: Path
) -> None:
    bump(instruments_copy, "gad-7", "1.2.0")
    path = instruments_copy / "phq-9" / "1.0.0.json"
    text = path.read_text()
    path.write_text(text.replace("Little interest", "Little Interest", 1))
    before = session.scalars(
        select(InstrumentVersion).where(
            InstrumentVersion.instrument_id == "phq-9", InstrumentVersion.version == "1.0.0"
        )
    ).one()

    report = sync_definitions(session, load_definitions(instruments_copy))

    assert [(c.name, c.version) for c in report.refused] == [("phq-9", "1.0.0")]
    changed = report.refused[0]
    assert changed.stored_sha256 == before.sha256 != changed.file_sha256
    assert before.sha256 in str(changed) and changed.file_sha256 in str(changed)
    assert report.added == []
    assert sorted(
        session.scalars(
            select(InstrumentVersion.version).where(InstrumentVersion.instrument_id == "gad-7")
        )
    ) == ["1.0.0", "1.1.0"]
    assert len(session.scalars(select(InstrumentVersion)).all()) == 21


def test_the_consent_form_in_force_is_the_highest_version(
    session: Session, instruments_copy: Path
) -> None:
    assert current_consent_form(session).version == "1.1.1"
    bump(instruments_copy, "consent", "1.10.0")
    bump(instruments_copy, "consent", "1.9.0")
    sync_definitions(session, load_definitions(instruments_copy))
    assert current_consent_form(session).version == "1.10.0"


def test_the_sync_command_exits_non_zero_naming_what_changed(
    app: Flask, session: Session, instruments_copy: Path
) -> None:
    path = instruments_copy / "epds" / "1.0.0.json"
    path.write_text(path.read_text().replace('"title": "', '"title": "X', 1))
    result = app.test_cli_runner().invoke(
        args=["instruments", "sync", "--directory", str(instruments_copy)]
    )
    assert result.exit_code == 1
    assert "refused: epds 1.0.0 is published with sha256" in result.output
    assert "nothing was synced" in result.output


def test_the_sync_command_refuses_a_malformed_file_with_its_path(
    app: Flask, session: Session, instruments_copy: Path
) -> None:
    path = instruments_copy / "gad-7" / "1.0.0.json"
    data = json.loads(path.read_text())
    data["items"][0]["required"] = "yes"
    path.write_text(json.dumps(data))
    result = app.test_cli_runner().invoke(
        args=["instruments", "sync", "--directory", str(instruments_copy)]
    )
    assert result.exit_code == 1
    assert str(path) in result.output
    assert "$.items[0].required" in result.output


def test_texts_in_a_language_are_kept_once_per_language_the_version_has(
    session: Session,
) -> None:
    """Whatever tag a client sends, the process keeps one localised copy per language the
    version offers: a stream of made-up tags cannot grow a worker's memory."""
    from service.services.catalogue import catalogue

    found = catalogue(session)
    form = found.consent_form
    for n in range(50):
        shown = found.consent_form_in(f"cy-x{n}{'q' * 200}")
        assert shown.language == "cy-GB"
        assert found.consent_form_in(f"zz-{n}").language == form.languages[0]
    kept = {key for key in found.localised if key[:2] == (form.id, form.version)}
    assert kept <= {(form.id, form.version, tag) for tag in form.languages}
    assert len(kept) == 2
