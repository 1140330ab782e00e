"""Chunked AEAD for large objects (interview recordings, transcripts), streamed chunk by chunk.

The construction follows age's STREAM (Hoang, Reyhanitabar, Rogaway, Vizár, "Online
authenticated-encryption and its nonce-reuse misuse-resistance", 2015): the plaintext is cut
into fixed-size chunks and each is sealed with AES-256-GCM under the participant's data key,
with the chunk's index and a last-chunk flag authenticated, so the stream as a whole cannot be
reordered, cut short or extended without a chunk failing to open. Each sealed chunk is:

    record = 0x01 | context tag (8) | index (4, big-endian) | final flag (1) | nonce (12)
             | ciphertext+tag

The associated data is the first 14 bytes (version, context tag, index, flag) plus the
length-prefixed context (purpose, object id), exactly as encrypted fields bind their row.

Where STREAM derives each nonce from a counter, this module draws a fresh random 96-bit nonce
per chunk. A counter nonce is only safe under a key used for this one stream, and the data key
is shared by all of a participant's fields and objects, which already use random nonces; a
second nonce discipline under the same key could collide with them. Random nonces keep one
rule for the key: a 500 MB recording in 64 KiB chunks is about 8,000 nonces, far below the
2^32 random nonces NIST SP 800-38D allows per key. The index and flag, in the associated data,
do the ordering work that the counter nonce does in STREAM.

Nothing here touches storage: the input is an iterable of bytes, the output an iterator, and
at most one chunk of plaintext is held at a time, whatever the sizes of the pieces given.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from service.domain.crypto import (
    NONCE_BYTES,
    ContextMismatchError,
    CryptoError,
    DataKey,
    FormatError,
    TamperedError,
    length_prefixed,
)

STREAM_VERSION = 1
DEFAULT_CHUNK_BYTES = 64 * 1024
CONTEXT_TAG_BYTES = 8
INDEX_BYTES = 4
MAX_CHUNKS = 2**32
TAG_BYTES = 16
HEADER_BYTES = 1 + CONTEXT_TAG_BYTES + INDEX_BYTES + 1
OVERHEAD_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
_NOT_FINAL, _FINAL = 0, 1


class ChunkOrderError(CryptoError):
    """A chunk arrived out of place: reordered, dropped or duplicated."""


class TruncatedStreamError(CryptoError):
    """The stream ended before its final chunk, or held no chunk at all."""


class TrailingChunkError(CryptoError):
    """Something followed the final chunk."""


@dataclass(frozen=True)
class StreamContext:
    """What a stream is (``purpose``, e.g. ``interview-audio``) and which one (``object_id``).

    The purpose is bound as well as the id because an interview's recording and its transcript
    share the interview id: without it, one's chunks would open as the other's.
    """

    purpose: str
    object_id: str

    def associated(self) -> bytes:
        return length_prefixed("chunked-stream", self.purpose, self.object_id)

    def tag(self) -> bytes:
        return hashlib.sha256(self.associated()).digest()[:CONTEXT_TAG_BYTES]


def _header(context_tag: bytes, index: int, final: bool) -> bytes:
    return (
        bytes([STREAM_VERSION])
        + context_tag
        + index.to_bytes(INDEX_BYTES, "big")
        + bytes([_FINAL if final else _NOT_FINAL])
    )


def _seal(dek: DataKey, context: StreamContext, index: int, final: bool, chunk: bytes) -> bytes:
    if index >= MAX_CHUNKS:
        raise FormatError(f"a stream holds at most {MAX_CHUNKS} chunks")
    header = _header(context.tag(), index, final)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return header + nonce + dek.aead.encrypt(nonce, chunk, header + context.associated())


def encrypt_stream(
    dek: DataKey,
    plaintext: Iterable[bytes],
    context: StreamContext,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[bytes]:
    """Seal a stream of bytes (pieces of any size) into chunk records, one at a time."""
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be at least 1")
    buffer = bytearray()
    index = 0
    for piece in plaintext:
        view = memoryview(piece)
        while view:
            # A full buffer is sealed as non-final only once more input exists, so the last
            # chunk is always the one flagged final, even when the input ends on a boundary.
            if len(buffer) == chunk_bytes:
                yield _seal(dek, context, index, False, bytes(buffer))
                index += 1
                buffer.clear()
            take = chunk_bytes - len(buffer)
            buffer += view[:take]
            view = view[take:]
    # An empty plaintext still gives one (final) chunk, so "nothing" is authenticated and an
    # empty list of records is refused as a stream, not read as an empty recording.
    yield _seal(dek, context, index, True, bytes(buffer))


def decrypt_stream(
    dek: DataKey, records: Iterable[bytes], context: StreamContext
) -> Iterator[bytes]:
    """Open chunk records in order and yield their plaintext, refusing any altered stream.

    Chunks are yielded as they authenticate, so a caller that streams them on must treat an
    exception as the failure of the whole stream: truncation is only known at the end.
    """
    expected_tag = context.tag()
    associated = context.associated()
    index = 0
    finished = False
    for record in records:
        if finished:
            raise TrailingChunkError(f"data follows the final chunk (chunk {index})")
        if len(record) < OVERHEAD_BYTES or record[0] != STREAM_VERSION:
            raise FormatError(f"chunk {index} is not a chunk record of a known format version")
        if not hmac.compare_digest(record[1 : 1 + CONTEXT_TAG_BYTES], expected_tag):
            raise ContextMismatchError(f"chunk {index} belongs to another object or purpose")
        found = int.from_bytes(record[1 + CONTEXT_TAG_BYTES : HEADER_BYTES - 1], "big")
        if found != index:
            raise ChunkOrderError(f"chunk {found} found where chunk {index} was expected")
        flag = record[HEADER_BYTES - 1]
        if flag not in (_NOT_FINAL, _FINAL):
            raise FormatError(f"chunk {index} has an unknown flag")
        # The header is rebuilt from what is expected, not copied from the record, so the
        # index and flag that are authenticated are the ones this reader acts on.
        header = _header(expected_tag, index, flag == _FINAL)
        nonce = record[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            chunk = dek.aead.decrypt(
                nonce, record[HEADER_BYTES + NONCE_BYTES :], header + associated
            )
        except InvalidTag:
            raise TamperedError(
                f"chunk {index} does not authenticate (altered, or under another key)"
            ) from None
        finished = flag == _FINAL
        index += 1
        yield chunk
    if index == 0:
        raise TruncatedStreamError("the stream holds no chunk")
    if not finished:
        raise TruncatedStreamError(
            f"the stream ends after chunk {index - 1}, before its final chunk"
        )
