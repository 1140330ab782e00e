"""Envelope encryption: round trips, tampering, moved ciphertexts, key states, no key leaks."""

import base64
from typing import Any

import pytest

from service.domain.crypto import (
    ContextMismatchError,
    CryptoError,
    FieldContext,
    FormatError,
    Keyring,
    KeyringError,
    KeyUnavailableError,
    TamperedError,
    decrypt_field,
    encrypt_field,
    length_prefixed,
    new_data_key,
)

CTX = FieldContext(
    "responses", "answers", "5f0c6d1e-0000-4000-8000-000000000001", "PSAM-7K3M9QXR-4"
)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -7,
        2**70,
        -(2**64) - 1,
        2**63 - 1,
        [18446744073709551616, 1.5e300],
        3.25,
        -0.5,
        "",
        "text",
        "Zoë ☂ 😀",
        [],
        [1, "a", None],
        {},
        {"phq9_1": 2, "nested": {"list": [1.5, False]}, "ünï": "códé"},
    ],
)
def test_every_json_type_survives_the_round_trip(value: Any) -> None:
    dek = new_data_key()
    blob = encrypt_field(dek, value, CTX)
    out = decrypt_field(dek, blob, CTX)
    assert out == value and type(out) is type(value)


def test_the_same_value_encrypts_differently_each_time() -> None:
    dek = new_data_key()
    assert encrypt_field(dek, "same", CTX) != encrypt_field(dek, "same", CTX)


def test_a_single_flipped_bit_anywhere_is_refused() -> None:
    dek = new_data_key()
    blob = encrypt_field(dek, {"answer": 3}, CTX)
    for position in range(len(blob)):
        for bit in range(8):
            damaged = bytearray(blob)
            damaged[position] ^= 1 << bit
            with pytest.raises(CryptoError):
                decrypt_field(dek, bytes(damaged), CTX)


def test_a_truncated_blob_is_refused() -> None:
    dek = new_data_key()
    blob = encrypt_field(dek, "x", CTX)
    for cut in (0, 1, 20, len(blob) - 1):
        with pytest.raises(CryptoError):
            decrypt_field(dek, blob[:cut], CTX)


@pytest.mark.parametrize(
    "moved",
    [
        FieldContext(CTX.table, CTX.column, "5f0c6d1e-0000-4000-8000-000000000002", CTX.study_id),
        FieldContext(CTX.table, "scores", CTX.row_id, CTX.study_id),
        FieldContext("identity_values", CTX.column, CTX.row_id, CTX.study_id),
        FieldContext(CTX.table, CTX.column, CTX.row_id, "PSAM-0000000A-8"),
    ],
)
def test_a_blob_moved_to_another_row_column_table_or_participant_is_refused(
    moved: FieldContext,
) -> None:
    dek = new_data_key()
    blob = encrypt_field(dek, "secret", CTX)
    with pytest.raises(ContextMismatchError, match="another row or column"):
        decrypt_field(dek, blob, moved)


def test_a_blob_under_another_participants_data_key_says_so() -> None:
    mine, theirs = new_data_key(), new_data_key()
    with pytest.raises(ContextMismatchError, match="another participant"):
        decrypt_field(theirs, encrypt_field(mine, "x", CTX), CTX)


def test_length_prefixes_keep_parts_from_running_into_each_other() -> None:
    assert length_prefixed("ab", "c") != length_prefixed("a", "bc")


def material_forms(keyring: Keyring) -> list[str]:
    """Every way a key might be spelled in a message."""
    forms = []
    for kek in keyring.keks.values():
        if kek.material:
            forms += [kek.material.hex(), base64.b64encode(kek.material).decode()]
    return forms


def test_a_data_key_wrapped_by_a_destroyed_kek_names_the_key_and_never_the_material() -> None:
    keyring = Keyring.generate()
    old = keyring.primary
    wrapped = keyring.wrap_data_key(new_data_key(), CTX.study_id)
    forms = material_forms(keyring)
    rotated = keyring.with_new_primary().with_destroyed(old.id)
    with pytest.raises(KeyUnavailableError) as info:
        rotated.unwrap_data_key(wrapped, CTX.study_id)
    message = str(info.value)
    assert info.value.key_id == old.id and old.id in message and "destroyed" in message
    assert not any(form in message or form in repr(info.value) for form in forms)


def test_rotation_keeps_old_wrapped_keys_readable_until_the_old_kek_is_destroyed() -> None:
    keyring = Keyring.generate()
    dek = new_data_key()
    wrapped = keyring.wrap_data_key(dek, CTX.study_id)
    rotated = keyring.with_new_primary()
    assert rotated.primary.id != keyring.primary.id
    assert rotated.unwrap_data_key(wrapped, CTX.study_id) == dek
    rewrapped = rotated.wrap_data_key(dek, CTX.study_id)
    assert (
        rotated.with_destroyed(keyring.primary.id).unwrap_data_key(rewrapped, CTX.study_id) == dek
    )


def test_the_primary_kek_cannot_be_destroyed() -> None:
    keyring = Keyring.generate()
    with pytest.raises(KeyringError, match="primary"):
        keyring.with_destroyed(keyring.primary.id)


def test_a_wrapped_key_is_bound_to_its_participant() -> None:
    keyring = Keyring.generate()
    wrapped = keyring.wrap_data_key(new_data_key(), CTX.study_id)
    with pytest.raises(TamperedError):
        keyring.unwrap_data_key(wrapped, "PSAM-0000000A-8")


def test_an_unknown_format_version_is_refused() -> None:
    keyring = Keyring.generate()
    wrapped = keyring.wrap_data_key(new_data_key(), CTX.study_id)
    with pytest.raises(FormatError):
        keyring.unwrap_data_key(b"\x02" + wrapped[1:], CTX.study_id)


def test_each_purpose_gets_its_own_mac_key() -> None:
    keyring = Keyring.generate()
    message = b"PSAM-7K3M9QXR-4"
    commitment = keyring.mac("signature-commitment", message)
    pseudonym = keyring.mac("export-pseudonym", message)
    assert commitment != pseudonym and len(commitment) == 32
    assert keyring.mac("signature-commitment", message) == commitment
    with pytest.raises(ValueError):
        keyring.mac("anything-else", message)


def test_a_keyring_survives_serialisation_and_its_repr_holds_no_key() -> None:
    keyring = Keyring.generate().with_new_primary()
    again = Keyring.from_dict(keyring.to_dict())
    assert again.primary.id == keyring.primary.id
    sig = keyring.signing_key().public_key().public_bytes_raw()
    assert again.signing_key().public_key().public_bytes_raw() == sig
    assert not any(form in repr(keyring) for form in material_forms(keyring))
    assert not any(form in repr(list(keyring.keks.values())) for form in material_forms(keyring))


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.update(format="other/9"), "format"),
        (lambda d: d["keks"][0].update(state="primary", key="!!!"), "base64"),
        (lambda d: d["keks"][0].update(state="enabled"), "exactly one primary"),
        (lambda d: d.pop("hmac"), "malformed"),
    ],
)
def test_a_malformed_keyring_is_refused_without_echoing_keys(mutate: Any, fragment: str) -> None:
    keyring = Keyring.generate()
    data = keyring.to_dict()
    mutate(data)
    with pytest.raises(KeyringError) as info:
        Keyring.from_dict(data)
    assert fragment in str(info.value)
    assert not any(form in str(info.value) for form in material_forms(keyring))
