"""The hash chain and its checkpoints: any single change is found, at the right seq."""

from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.ledger import Checkpoint, Entry, entry_hash, link, sign_checkpoint, verify_log

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key()


def chain(length: int) -> list[Entry]:
    entries: list[Entry] = []
    for n in range(1, length + 1):
        event = {"log": "consent", "seq": n, "type": "consent", "study_id": f"S{n % 3}", "n": n}
        entries.append(link(entries[-1] if entries else None, event))
    return entries


def checkpoints_for(entries: list[Entry], every: int) -> list[Checkpoint]:
    return [
        sign_checkpoint(KEY, "consent", e.seq, e.hash, "2026-11-25T00:00:00Z")
        for e in entries
        if e.seq % every == 0
    ]


def rebuilt(entries: list[Entry]) -> list[Entry]:
    """Re-link a list of events consistently, as a writer with database access could."""
    out: list[Entry] = []
    for n, entry in enumerate(entries, start=1):
        out.append(link(out[-1] if out else None, {**entry.event, "seq": n}))
    return out


def test_an_untouched_chain_verifies_with_its_checkpoints() -> None:
    entries = chain(25)
    result = verify_log("consent", entries, checkpoints_for(entries, 10), PUBLIC)
    assert result.ok and result.length == 25 and result.checkpoints_checked == 2
    assert result.head_hash == entries[-1].hash and result.first_bad_seq is None


mutation = st.sampled_from(["edit", "delete", "swap", "insert", "truncate"])


@settings(max_examples=300, deadline=None)
@given(length=st.integers(3, 40), every=st.integers(1, 10), kind=mutation, data=st.data())
def test_any_single_change_is_found_at_its_first_bad_seq(
    length: int, every: int, kind: str, data: st.DataObject
) -> None:
    entries = chain(length)
    signed = checkpoints_for(entries, every)
    last_checkpoint = max((c.length for c in signed), default=0)
    if kind == "edit":
        i = data.draw(st.integers(1, length))
        victim = entries[i - 1]
        entries[i - 1] = replace(victim, event={**victim.event, "type": "withdrawal"})
        expected = i
    elif kind == "delete":
        i = data.draw(st.integers(1, length - 1 if last_checkpoint < length else length))
        del entries[i - 1]
        expected = i
    elif kind == "swap":
        i = data.draw(st.integers(1, length - 1))
        j = data.draw(st.integers(i + 1, length))
        entries[i - 1], entries[j - 1] = entries[j - 1], entries[i - 1]
        expected = i
    elif kind == "insert":
        i = data.draw(st.integers(1, length))
        previous = entries[i - 2] if i >= 2 else None
        forged = link(previous, {"log": "consent", "seq": i, "type": "consent", "forged": True})
        entries.insert(i - 1, forged)
        expected = i
    else:
        if last_checkpoint == 0:
            return
        keep = data.draw(st.integers(0, last_checkpoint - 1))
        entries = entries[:keep]
        expected = keep + 1
    result = verify_log("consent", entries, signed, PUBLIC)
    assert not result.ok
    assert result.first_bad_seq == expected, result.problems


@settings(max_examples=100, deadline=None)
@given(length=st.integers(4, 40), every=st.integers(1, 10), data=st.data())
def test_a_consistently_rebuilt_chain_is_caught_by_the_checkpoints_signed_before(
    length: int, every: int, data: st.DataObject
) -> None:
    entries = chain(length)
    signed = checkpoints_for(entries, every)
    covered = [c.length for c in signed]
    if not covered:
        return
    i = data.draw(st.integers(1, max(covered)))
    edited = list(entries)
    edited[i - 1] = replace(edited[i - 1], event={**edited[i - 1].event, "type": "withdrawal"})
    forged = rebuilt(edited)
    assert verify_log("consent", forged, []).ok  # the links alone hold
    result = verify_log("consent", forged, signed, PUBLIC)
    assert not result.ok
    previous_good = max((c for c in covered if c < i), default=0)
    assert result.first_bad_seq == previous_good + 1


def test_a_checkpoint_with_a_bad_signature_fails_verification() -> None:
    entries = chain(5)
    (good,) = checkpoints_for(entries, 5)
    other_key = Ed25519PrivateKey.generate()
    forged = sign_checkpoint(other_key, "consent", 5, good.head_hash, good.time)
    result = verify_log("consent", entries, [forged], PUBLIC)
    assert not result.ok and "not validly signed" in result.problems[0]


def test_an_entry_moved_from_another_log_is_refused() -> None:
    entries = chain(3)
    event = {**entries[2].event, "log": "access"}
    entries[2] = Entry(3, entries[1].hash, entry_hash(entries[1].hash, event), event)
    assert verify_log("consent", entries).first_bad_seq == 3
