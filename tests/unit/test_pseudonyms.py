import pytest
from marshmallow import Schema, ValidationError

from schemas.fields import StudyId
from service.domain.pseudonyms import (
    ALPHABET,
    StudyIdError,
    check_character,
    new_study_id,
    parse_study_id,
)


def test_a_new_study_id_has_the_documented_shape_and_passes_its_check() -> None:
    sid = new_study_id()
    prefix, body, check = sid.split("-")
    assert prefix == "PSAM" and len(body) == 8 and len(check) == 1
    assert set(body + check) <= set(ALPHABET)
    assert parse_study_id(sid) == sid


def test_study_ids_are_random() -> None:
    assert len({new_study_id() for _ in range(2000)}) == 2000


def test_typing_in_lower_case_or_with_look_alike_letters_still_reads() -> None:
    body = "0123ABCD"
    sid = f"PSAM-{body}-{check_character(body)}"
    assert parse_study_id(" psam-o123abcd-" + check_character(body).lower()) == sid
    assert parse_study_id(sid.replace("1", "I").replace("1", "l")) == sid


def test_every_single_mistyped_character_is_caught() -> None:
    body = "7K3M9QXR"
    check = check_character(body)
    for i in range(len(body)):
        for char in ALPHABET:
            if char != body[i]:
                with pytest.raises(StudyIdError, match="check character"):
                    parse_study_id(f"PSAM-{body[:i]}{char}{body[i + 1 :]}-{check}")


def test_swapped_neighbours_are_caught_except_zero_with_z() -> None:
    missed = []
    for a in ALPHABET:
        for b in ALPHABET:
            if a == b:
                continue
            body, swapped = f"{a}{b}345678", f"{b}{a}345678"
            if check_character(body) == check_character(swapped):
                missed.append(a + b)
    assert sorted(missed) == ["0Z", "Z0"]


@pytest.mark.parametrize(
    "text", ["", "PSAM-7K3M9QXR", "XXXX-7K3M9QXR-4", "PSAM-7K3M9QX-4", "PSAM-7K3M9QXU-4"]
)
def test_text_that_is_not_a_study_id_says_what_is_expected(text: str) -> None:
    with pytest.raises(StudyIdError, match="expected PSAM-XXXXXXXX-C"):
        parse_study_id(text)


class Body(Schema):
    study_id = StudyId(required=True)


def test_the_schema_field_gives_a_422_message_naming_the_check_character() -> None:
    sid = new_study_id()
    assert Body().load({"study_id": sid.lower()}) == {"study_id": sid}
    wrong = sid[:-1] + ("0" if sid[-1] != "0" else "1")
    with pytest.raises(ValidationError) as info:
        Body().load({"study_id": wrong})
    assert "check character does not match" in info.value.messages["study_id"][0]
