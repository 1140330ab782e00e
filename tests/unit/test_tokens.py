import pytest

from service.domain.tokens import TokenKind, generate_token, hash_token, token_hint, token_kind


@pytest.mark.parametrize("kind", list(TokenKind))
def test_a_generated_token_has_its_prefix_and_passes_its_checksum(kind: TokenKind) -> None:
    token = generate_token(kind)
    assert token.startswith(kind.value)
    assert len(token) == len(kind.value) + 43 + 6
    assert token_kind(token) is kind


def test_tokens_are_not_repeated() -> None:
    assert len({generate_token(TokenKind.STAFF) for _ in range(200)}) == 200


def test_changing_any_one_character_breaks_the_checksum() -> None:
    token = generate_token(TokenKind.STAFF)
    start = len(TokenKind.STAFF.value)
    for i in range(start, len(token)):
        replacement = "A" if token[i] != "A" else "B"
        assert token_kind(token[:i] + replacement + token[i + 1 :]) is None


@pytest.mark.parametrize(
    "text",
    ["", "psam_s_", "psam_x_" + "A" * 49, "Bearer psam_s_abc", "psam_s_" + "!" * 49],
)
def test_malformed_tokens_are_not_recognised(text: str) -> None:
    assert token_kind(text) is None


def test_a_staff_token_is_not_a_participant_token() -> None:
    staff = generate_token(TokenKind.STAFF)
    assert token_kind(staff.replace("psam_s_", "psam_p_", 1)) is None


def test_the_stored_hash_is_sha256_hex_and_the_hint_holds_little_of_the_secret() -> None:
    token = generate_token(TokenKind.STAFF)
    digest = hash_token(token)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert token not in digest
    assert token_hint(token) == token[:11] + "..."
