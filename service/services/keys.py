"""Key management: status, online rotation (re-wrapping data keys), retirement.

Each command that changes keys writes one access-log event, in the database transaction
that makes its change take effect: a rotation or a re-wrap in the one that names the primary
KEK (before any data key is re-wrapped, so a run cut short is on record), a retirement in the
one that checks no data key uses the KEK, committed only once the keyring file is rewritten.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.db import utcnow
from service.domain.crypto import KeyringError, KeyState
from service.models import AccessLogEntry, DataKeyRecord, KekPrimary
from service.services.audit import Trail
from service.services.keyring import KeyringSource
from service.services.ledger import lock_logs
from service.services.vault import data_keys_per_kek


@dataclass(frozen=True)
class KekStatus:
    id: str
    state: str
    created_at: str
    data_keys: int


def key_status(session: Session, keys: KeyringSource) -> list[KekStatus]:
    """Each KEK with its state and how many data keys it wraps (unknown ids included)."""
    keyring = keys.reload()
    counts = data_keys_per_kek(session)
    listed = [
        KekStatus(k.id, k.state.value, k.created_at, counts.get(k.id, 0))
        for k in keyring.keks.values()
    ]
    listed += [
        KekStatus(kid, "missing from keyring", "", n)
        for kid, n in counts.items()
        if kid not in keyring.keks
    ]
    return listed


@dataclass(frozen=True)
class RewrapReport:
    primary: str
    rewrapped: int
    batches: int


def record_primary(
    sessions: sessionmaker[Session],
    kek_id: str,
    *,
    trail: Trail | None = None,
    action: str = "keys.rewrap",
) -> int:
    """Name the primary KEK in the database, waiting for data keys being created to commit;
    with a ``trail``, log ``action`` in the same transaction. Returns how many data keys are
    under another KEK."""
    with sessions() as session:
        if trail is not None:
            # The access log before the primary row: enrolment takes them in this order.
            lock_logs(session, "access")
        session.execute(update(KekPrimary).where(KekPrimary.id == 1).values(kek_id=kek_id))
        total = int(
            session.scalar(
                select(func.count())
                .select_from(DataKeyRecord)
                .where(DataKeyRecord.kek_id != kek_id)
            )
            or 0
        )
        if trail is not None:
            trail.record(session, action, filters={"primary": kek_id}, rows=total)
        session.commit()
    return total


def rewrap_data_keys(
    sessions: sessionmaker[Session],
    keys: KeyringSource,
    *,
    batch_size: int = 500,
    pause: float = 0.0,
    on_total: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    trail: Trail | None = None,
    action: str = "keys.rewrap",
) -> RewrapReport:
    """Re-wrap every data key not under the primary KEK, one transaction per batch.

    Safe to run while the service takes writes, and to run again after a crash: each batch
    commits on its own, and what is left is simply what is not yet under the primary. With
    a ``trail``, one access-log event (``action``, the primary, how many keys are to re-wrap)
    is written with the primary, before the first batch.
    """
    keyring = keys.reload()
    primary = keyring.primary.id
    total = record_primary(sessions, primary, trail=trail, action=action)
    if on_total:
        on_total(total)
    done = batches = 0
    while True:
        with sessions() as session:
            records = session.scalars(
                select(DataKeyRecord)
                .where(DataKeyRecord.kek_id != primary)
                .order_by(DataKeyRecord.study_id)
                .limit(batch_size)
                .with_for_update()
            ).all()
            if not records:
                break
            now = utcnow()
            for record in records:
                dek = keyring.unwrap_data_key(record.wrapped, record.study_id)
                record.wrapped = keyring.wrap_data_key(dek, record.study_id)
                record.kek_id = primary
                record.rewrapped_at = now
            session.commit()
        done += len(records)
        batches += 1
        if on_batch:
            on_batch(len(records))
        if pause:
            time.sleep(pause)
    return RewrapReport(primary, done, batches)


def add_primary_kek(keys: KeyringSource) -> str:
    """Add a new primary KEK to the keyring file; the old primary stays enabled."""
    keyring = keys.reload().with_new_primary()
    keys.replace(keyring)
    return keyring.primary.id


def retire_kek(
    sessions: sessionmaker[Session],
    keys: KeyringSource,
    kek_id: str,
    *,
    trail: Trail | None = None,
) -> None:
    """Destroy a KEK's material; refused while any data key is still wrapped by it.

    With a ``trail`` the retirement is logged in the transaction that checked the KEK is
    unused, committed after the keyring file is rewritten: a failed rewrite leaves no event.
    Retiring a KEK already destroyed changes nothing and logs nothing.
    """
    keyring = keys.reload()
    kek = keyring.keks.get(kek_id)
    if kek is None:
        raise KeyringError(f"there is no KEK {kek_id}")
    if kek.state is KeyState.DESTROYED:
        return
    with sessions() as session:
        if trail is not None:
            lock_logs(session, "access")
        still = session.scalar(
            select(func.count()).select_from(DataKeyRecord).where(DataKeyRecord.kek_id == kek_id)
        )
        if still:
            raise KeyringError(
                f"{still} data keys are still wrapped by {kek_id}: run 'keys rewrap' first"
            )
        if trail is not None:
            trail.record(session, "keys.retire", filters={"kek": kek_id}, rows=0)
        keys.replace(keyring.with_destroyed(kek_id))
        session.commit()


def record_new_keyring(session: Session, trail: Trail) -> bool:
    """Log a keyring just created, if the database has an access log yet. Commits.

    ``keys init`` is the first step of an installation, before ``db upgrade``: then there is
    no log to write to, and no data key for the keyring to protect.
    """
    if not inspect(session.connection()).has_table(AccessLogEntry.__tablename__):
        return False
    trail.record(session, "keys.init", filters={"primary": trail.keyring.primary.id})
    session.commit()
    return True
