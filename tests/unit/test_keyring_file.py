"""The keyring file: created 0600, never overwritten, refused when others can read it."""

import os
import stat
from pathlib import Path

import pytest

from service.domain.crypto import Keyring, KeyringError
from service.services.keyring import KeyringSource, load_keyring_file, write_keyring_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_keyring_file_is_owner_only_and_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    first = Keyring.generate()
    write_keyring_file(path, first, create=True)
    assert mode(path) == 0o600
    with pytest.raises(KeyringError, match="already exists"):
        write_keyring_file(path, Keyring.generate(), create=True)
    assert load_keyring_file(path).primary.id == first.primary.id


@pytest.mark.parametrize("bad_mode", [0o640, 0o604, 0o660, 0o644])
def test_a_keyring_readable_by_group_or_others_is_refused(tmp_path: Path, bad_mode: int) -> None:
    path = tmp_path / "keyring.json"
    write_keyring_file(path, Keyring.generate(), create=True)
    os.chmod(path, bad_mode)
    with pytest.raises(KeyringError, match="chmod 600"):
        load_keyring_file(path)


def test_a_replaced_keyring_stays_owner_only_and_the_source_sees_the_change(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    write_keyring_file(path, Keyring.generate(), create=True)
    source = KeyringSource(str(path))
    before = source.current().primary.id
    other = KeyringSource(str(path))  # another process's view of the same file
    other.replace(other.current().with_new_primary())
    assert mode(path) == 0o600
    assert source.current().primary.id != before
    assert set(os.listdir(tmp_path)) == {"keyring.json"}


def test_a_keyring_from_the_environment_is_read_but_never_written(tmp_path: Path) -> None:
    import json

    inline = json.dumps(Keyring.generate().to_dict())
    source = KeyringSource(str(tmp_path / "unused.json"), inline)
    assert not source.writable
    with pytest.raises(KeyringError, match="PSAM_KEYRING_JSON"):
        source.replace(source.current().with_new_primary())


def test_a_missing_keyring_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="keys init"):
        KeyringSource(str(tmp_path / "none.json")).current()


def as_secret_mount(path: Path, mode: int) -> None:
    """Make ``path`` look like a mounted secret: owned by another user (needs root)."""
    if os.geteuid() != 0:
        pytest.fail("this test changes a file's owner: run the suite as root, as CI does")
    os.chown(path, 65534, 65534)
    os.chmod(path, mode)


@pytest.mark.parametrize("secret_mode", [0o444, 0o440, 0o400, 0o644])
def test_a_read_only_secret_owned_by_another_user_is_accepted(
    tmp_path: Path, secret_mode: int
) -> None:
    path = tmp_path / "psam-keyring"
    write_keyring_file(path, Keyring.generate(), create=True)
    as_secret_mount(path, secret_mode)
    assert load_keyring_file(path).primary is not None


@pytest.mark.parametrize("writable_mode", [0o664, 0o646, 0o666])
def test_a_secret_that_group_or_others_can_change_is_refused(
    tmp_path: Path, writable_mode: int
) -> None:
    path = tmp_path / "psam-keyring"
    write_keyring_file(path, Keyring.generate(), create=True)
    as_secret_mount(path, writable_mode)
    with pytest.raises(KeyringError, match="group or others can change it"):
        load_keyring_file(path)
