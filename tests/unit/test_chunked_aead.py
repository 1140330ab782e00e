"""Chunked AEAD: round trips, every way of altering a stream refused, flat memory, no key leaks."""

import hashlib
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.chunked import (
    HEADER_BYTES,
    OVERHEAD_BYTES,
    ChunkOrderError,
    StreamContext,
    TrailingChunkError,
    TruncatedStreamError,
    decrypt_stream,
    encrypt_stream,
)
from service.domain.crypto import (
    ContextMismatchError,
    CryptoError,
    FormatError,
    TamperedError,
    new_data_key,
)

CHUNK = 64
DEK = new_data_key()
AUDIO = StreamContext("interview-audio", "7a1d3c52-0000-4000-8000-000000000001")


def seal(data: bytes, context: StreamContext = AUDIO, chunk: int = CHUNK) -> list[bytes]:
    return list(encrypt_stream(DEK, [data], context, chunk))


def open_all(records: list[bytes], context: StreamContext = AUDIO) -> bytes:
    return b"".join(decrypt_stream(DEK, records, context))


def payload(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


@pytest.mark.parametrize(
    ("size", "chunks"),
    [(0, 1), (1, 1), (CHUNK - 1, 1), (CHUNK, 1), (CHUNK + 1, 2), (5 * CHUNK + 7, 6)],
)
def test_a_stream_round_trips_in_the_expected_number_of_chunks(size: int, chunks: int) -> None:
    records = seal(payload(size))
    assert len(records) == chunks
    assert open_all(records) == payload(size)


def test_only_the_last_chunk_is_flagged_final() -> None:
    records = seal(payload(3 * CHUNK))
    assert [r[HEADER_BYTES - 1] for r in records] == [0, 0, 1]
    assert [len(r) - OVERHEAD_BYTES for r in records] == [CHUNK, CHUNK, CHUNK]


def test_an_empty_plaintext_gives_one_final_chunk() -> None:
    records = seal(b"")
    assert len(records) == 1
    assert records[0][HEADER_BYTES - 1] == 1
    assert list(decrypt_stream(DEK, records, AUDIO)) == [b""]


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(st.binary(max_size=3 * CHUNK), max_size=8),
    chunk=st.integers(min_value=1, max_value=2 * CHUNK),
)
def test_any_split_of_the_input_round_trips_into_full_chunks(
    pieces: list[bytes], chunk: int
) -> None:
    records = list(encrypt_stream(DEK, pieces, AUDIO, chunk))
    opened = list(decrypt_stream(DEK, records, AUDIO))
    assert b"".join(opened) == b"".join(pieces)
    assert all(len(c) == chunk for c in opened[:-1])
    assert 0 < len(opened[-1]) <= chunk or len(opened) == 1


def test_each_chunk_has_its_own_nonce() -> None:
    records = seal(bytes(4 * CHUNK)) + seal(bytes(4 * CHUNK))
    nonces = {r[HEADER_BYTES : HEADER_BYTES + 12] for r in records}
    assert len(nonces) == len(records)


def _flip(record: bytes, at: int) -> bytes:
    return record[:at] + bytes([record[at] ^ 0x01]) + record[at + 1 :]


@pytest.mark.parametrize("at", [HEADER_BYTES, HEADER_BYTES + 12, -1], ids=["nonce", "body", "tag"])
def test_a_modified_chunk_is_refused(at: int) -> None:
    records = seal(payload(3 * CHUNK))
    records[1] = _flip(records[1], at % len(records[1]))
    with pytest.raises(TamperedError, match="chunk 1"):
        open_all(records)


def test_a_final_flag_set_on_an_earlier_chunk_is_refused() -> None:
    records = seal(payload(3 * CHUNK))
    with pytest.raises(TamperedError):
        open_all([_flip(records[0], HEADER_BYTES - 1), *records[1:]])


def test_a_final_flag_cleared_on_the_last_chunk_is_refused() -> None:
    records = seal(payload(3 * CHUNK))
    with pytest.raises(TamperedError):
        open_all([*records[:-1], _flip(records[-1], HEADER_BYTES - 1)])


def test_a_rewritten_index_is_refused() -> None:
    records = seal(payload(3 * CHUNK))
    swapped_index = records[1][:9] + (0).to_bytes(4, "big") + records[1][13:]
    # Claiming to be chunk 0 in second place is an order error; the first place's AAD fails.
    with pytest.raises(ChunkOrderError):
        open_all([records[0], swapped_index, records[2]])
    with pytest.raises(TamperedError):
        open_all([swapped_index, records[2]])


def test_reordered_chunks_are_refused() -> None:
    records = seal(payload(3 * CHUNK))
    with pytest.raises(ChunkOrderError, match="chunk 1 found where chunk 0"):
        open_all([records[1], records[0], records[2]])


def test_a_dropped_chunk_is_refused() -> None:
    records = seal(payload(3 * CHUNK))
    with pytest.raises(ChunkOrderError, match="chunk 2 found where chunk 1"):
        open_all([records[0], records[2]])


def test_a_duplicated_chunk_is_refused() -> None:
    records = seal(payload(3 * CHUNK))
    with pytest.raises(ChunkOrderError, match="chunk 0 found where chunk 1"):
        open_all([records[0], records[0], records[1], records[2]])


def test_a_stream_cut_before_its_final_chunk_is_refused() -> None:
    records = seal(payload(3 * CHUNK))
    with pytest.raises(TruncatedStreamError, match="after chunk 1"):
        open_all(records[:2])


def test_an_empty_stream_is_refused() -> None:
    with pytest.raises(TruncatedStreamError, match="no chunk"):
        open_all([])


def test_anything_after_the_final_chunk_is_refused() -> None:
    records = seal(payload(2 * CHUNK))
    other = seal(payload(2 * CHUNK))
    for extra in (records[-1], other[-1], b"", b"junk"):
        with pytest.raises(TrailingChunkError):
            open_all([*records, extra])


def test_a_whole_stream_of_another_object_is_refused() -> None:
    other = StreamContext("interview-audio", "7a1d3c52-0000-4000-8000-000000000002")
    with pytest.raises(ContextMismatchError, match="chunk 0"):
        open_all(seal(payload(2 * CHUNK), other))


def test_a_chunk_spliced_in_from_another_object_is_refused() -> None:
    other = StreamContext("interview-audio", "7a1d3c52-0000-4000-8000-000000000002")
    records, foreign = seal(payload(3 * CHUNK)), seal(payload(3 * CHUNK), other)
    with pytest.raises(ContextMismatchError, match="chunk 1"):
        open_all([records[0], foreign[1], records[2]])


def test_a_spliced_chunk_with_the_context_tag_rewritten_still_fails_to_authenticate() -> None:
    other = StreamContext("interview-audio", "7a1d3c52-0000-4000-8000-000000000002")
    records, foreign = seal(payload(3 * CHUNK)), seal(payload(3 * CHUNK), other)
    forged = records[1][:9] + foreign[1][9:]
    with pytest.raises(TamperedError, match="chunk 1"):
        open_all([records[0], forged, records[2]])


def test_a_transcript_does_not_open_as_the_same_interviews_audio() -> None:
    transcript = StreamContext("interview-transcript", AUDIO.object_id)
    with pytest.raises(ContextMismatchError):
        open_all(seal(b"de-identified text", transcript))


def test_a_stream_under_another_data_key_is_refused() -> None:
    records = list(encrypt_stream(new_data_key(), [payload(10)], AUDIO, CHUNK))
    with pytest.raises(TamperedError):
        open_all(records)


@pytest.mark.parametrize("record", [b"", b"\x01" * (OVERHEAD_BYTES - 1)])
def test_a_short_record_is_a_format_error(record: bytes) -> None:
    with pytest.raises(FormatError):
        open_all([record])


def test_an_unknown_version_or_flag_is_a_format_error() -> None:
    (record,) = seal(b"x")
    with pytest.raises(FormatError, match="version"):
        open_all([b"\x02" + record[1:]])
    with pytest.raises(FormatError, match="flag"):
        open_all([record[: HEADER_BYTES - 1] + b"\x02" + record[HEADER_BYTES:]])


def test_errors_never_show_the_key() -> None:
    records = seal(payload(3 * CHUNK))
    attacks = [
        [_flip(records[0], -1)],
        [records[1]],
        records[:1],
        [*records, records[0]],
        [],
    ]
    for attack in attacks:
        with pytest.raises(CryptoError) as caught:
            open_all(attack)
        text = str(caught.value) + repr(caught.value)
        assert DEK.material.hex() not in text
        assert DEK.material.decode("latin-1") not in text
    assert DEK.material.hex() not in repr(DEK)


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_bytes"):
        list(encrypt_stream(DEK, [b"x"], AUDIO, 0))


# --- memory ------------------------------------------------------------------------------------

MB = 1024 * 1024
BIG_CHUNK = 64 * 1024


class CountingSource:
    """A generated stream that counts how many bytes have been pulled from it."""

    def __init__(self, total: int, piece: int):
        self.total, self.piece, self.pulled = total, piece, 0

    def __iter__(self) -> Iterator[bytes]:
        while self.pulled < self.total:
            size = min(self.piece, self.total - self.pulled)
            self.pulled += size
            yield self.pulled.to_bytes(8, "big") * (size // 8) + bytes(size % 8)


@pytest.mark.parametrize("piece", [1000, BIG_CHUNK, 3 * BIG_CHUNK + 5])
def test_the_encryptor_pulls_input_lazily_a_chunk_ahead_at_most(piece: int) -> None:
    source = CountingSource(50 * MB, piece)
    sealed = 0
    for record in encrypt_stream(DEK, source, AUDIO, BIG_CHUNK):
        sealed += len(record) - OVERHEAD_BYTES
        # What has been read but not yet given back is all the encryptor can be holding.
        assert source.pulled - sealed <= BIG_CHUNK + piece
    assert sealed == source.total == 50 * MB


def test_encrypting_and_decrypting_50_mb_keeps_memory_flat() -> None:
    source = CountingSource(50 * MB, 10_000)
    expected = hashlib.sha256()
    for piece in CountingSource(50 * MB, 10_000):
        expected.update(piece)
    got = hashlib.sha256()
    tracemalloc.start()
    try:
        for chunk in decrypt_stream(DEK, encrypt_stream(DEK, source, AUDIO, BIG_CHUNK), AUDIO):
            got.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.digest() == expected.digest()
    # A handful of 64 KiB chunks in flight (buffer, sealed record, opened chunk), not 50 MB.
    assert peak < 8 * BIG_CHUNK, f"peak {peak} bytes"
