"""Study IDs: random pseudonyms with a check character, e.g. ``PSAM-7K3M9QXR-0``.

The eight random characters (40 bits) come from Crockford's base-32 alphabet, which leaves
out I, L, O and U so that IDs read aloud or typed from paper survive; the check character
is the Luhn mod 32 check over them, which catches every single mistyped character and every
swap of two neighbours except 0 with Z (Luhn's one blind spot: both double to themselves).
Nothing about a person goes into an ID.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "PSAM"
BODY_LENGTH = 8
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
STUDY_ID_PATTERN = f"^{PREFIX}-[{ALPHABET}]{{{BODY_LENGTH}}}-[{ALPHABET}]$"
# Crockford decoding: letters that look like digits read as those digits.
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


class StudyIdError(ValueError):
    """Not a study ID, or one with a mistyped character."""


def check_character(body: str) -> str:
    """The Luhn mod 32 check character of an ID's body."""
    total = 0
    factor = 2
    for char in reversed(body):
        addend = factor * _VALUE[char]
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return ALPHABET[(32 - total % 32) % 32]


def new_study_id() -> str:
    """A new random study ID."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return f"{PREFIX}-{body}-{check_character(body)}"


def parse_study_id(text: str) -> str:
    """The canonical form of a study ID as typed; StudyIdError says what is wrong with it."""
    cleaned = text.strip().upper().translate(_READ_AS)
    parts = cleaned.split("-")
    if (
        len(parts) != 3
        or parts[0] != PREFIX
        or len(parts[1]) != BODY_LENGTH
        or len(parts[2]) != 1
        or any(c not in _VALUE for c in parts[1] + parts[2])
    ):
        raise StudyIdError("not a study ID: expected PSAM-XXXXXXXX-C")
    if check_character(parts[1]) != parts[2]:
        raise StudyIdError("the check character does not match: the study ID is mistyped")
    return f"{PREFIX}-{parts[1]}-{parts[2]}"
