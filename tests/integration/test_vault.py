"""Data keys, the identity vault and erasure on a real database."""

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import create_app
from service.config import config_for_tests
from service.domain.crypto import ContextMismatchError, Keyring, wrapped_kek_id
from service.models import DataKeyRecord, IdentityValue, Participant
from service.services.keyring import KeyringSource, write_keyring_file
from service.services.participants import enrol_participant
from service.services.vault import ErasedError, Vault, encrypted_tables, shred_participant

CONTACT = {"name": "Alex Example", "email": "alex@example.org", "phone": "+44 7700 900123"}


def test_enrolment_keeps_contacts_only_as_ciphertext_in_the_vault(
    session: Session, keys: KeyringSource
) -> None:
    person = enrol_participant(session, keys, CONTACT)
    rows = session.scalars(select(IdentityValue).where(IdentityValue.study_id == person.study_id))
    stored = {row.kind: row.value for row in rows}
    assert set(stored) == set(CONTACT)
    for kind, blob in stored.items():
        assert CONTACT[kind].encode() not in blob
    fresh = Vault(session, keys)
    assert dict(fresh.identities(person.study_id)) == CONTACT
    record = session.get(DataKeyRecord, person.study_id)
    assert record is not None and wrapped_kek_id(record.wrapped) == keys.current().primary.id


def test_a_vault_value_copied_to_another_participant_does_not_decrypt(
    session: Session, keys: KeyringSource
) -> None:
    alex = enrol_participant(session, keys, {"name": "Alex"})
    sam = enrol_participant(session, keys, {"name": "Sam"})
    alex_row = session.scalars(
        select(IdentityValue).where(IdentityValue.study_id == alex.study_id)
    ).one()
    sam_row = session.scalars(
        select(IdentityValue).where(IdentityValue.study_id == sam.study_id)
    ).one()
    sam_row.value = alex_row.value
    session.commit()
    with pytest.raises(ContextMismatchError):
        Vault(session, keys).identities(sam.study_id)


def test_shredding_leaves_nothing_of_theirs_decryptable(
    session: Session, keys: KeyringSource
) -> None:
    gone = enrol_participant(session, keys, CONTACT)
    kept = enrol_participant(session, keys, {"name": "Kept"})
    vault = Vault(session, keys)
    vault.store_identity(gone.study_id, "signature", {"typed_name": "Alex", "signed_at": "t"})
    session.commit()

    report = shred_participant(session, gone.study_id)
    session.commit()

    assert report.rows_deleted["identity_values"] == 4
    assert report.rows_deleted["data_keys"] == 1
    assert session.get(DataKeyRecord, gone.study_id) is None
    assert (
        session.scalars(select(IdentityValue).where(IdentityValue.study_id == gone.study_id)).all()
        == []
    )
    participant = session.scalars(
        select(Participant).where(Participant.study_id == gone.study_id)
    ).one()
    assert participant.erased_at is not None
    with pytest.raises(ErasedError):
        Vault(session, keys).data_key(gone.study_id)
    assert dict(Vault(session, keys).identities(kept.study_id)) == {"name": "Kept"}


def test_erasure_reaches_every_table_that_holds_ciphertext() -> None:
    assert "identity_values" in encrypted_tables()


def test_the_service_refuses_to_start_with_a_keyring_others_can_read(
    database_url: str, tmp_path: Path
) -> None:
    settings = config_for_tests(database_url, str(tmp_path))
    path = Path(settings["PSAM_KEYRING"])
    write_keyring_file(path, Keyring.generate(), create=True)
    path.chmod(0o644)
    with pytest.raises(RuntimeError, match="group or others"):
        create_app(settings)


def test_keys_init_refuses_to_overwrite(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "init"])
    assert result.exit_code == 1 and "already exists" in result.output
    again = app.test_cli_runner().invoke(args=["keys", "init", "--if-missing"])
    assert again.exit_code == 0 and "left as it is" in again.output
