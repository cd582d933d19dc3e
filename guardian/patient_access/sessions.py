"""Patients' sessions (docs/patients.md "Sessions"): short-lived, server-side. The cookie
carries a random id; the database holds its hash, the patient and a CSRF token. A session
ends after `IDLE` without a request or `LONGEST` after it began, and at sign-out."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Engine, delete, insert, select, update

from guardian.patient_access.schema import patient_sessions

IDLE = dt.timedelta(minutes=30)
LONGEST = dt.timedelta(hours=4)


@dataclass(frozen=True)
class PatientSession:
    patient_id: UUID
    csrf_token: str
    via: str


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def start(engine: Engine, patient_id: UUID, via: str, now: dt.datetime) -> str:
    """A new session; returns the raw id for the cookie."""
    raw = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(delete(patient_sessions).where(
            patient_sessions.c.last_seen_at < now - LONGEST))  # long gone ones
        conn.execute(insert(patient_sessions).values(
            id_hash=_hash(raw), patient_id=patient_id.hex, csrf_token=secrets.token_hex(16),
            via=via, created_at=now, last_seen_at=now))
    return raw


def current(engine: Engine, raw: str | None, now: dt.datetime) -> PatientSession | None:
    """The live session of this cookie (its last-seen time moved on), or None."""
    if not raw:
        return None
    s = patient_sessions
    with engine.begin() as conn:
        row = conn.execute(select(s).where(s.c.id_hash == _hash(raw))).first()
        if row is None:
            return None
        if now - _aware(row.last_seen_at) > IDLE or now - _aware(row.created_at) > LONGEST:
            conn.execute(delete(s).where(s.c.id_hash == row.id_hash))
            return None
        if now - _aware(row.last_seen_at) > dt.timedelta(seconds=60):
            conn.execute(update(s).where(s.c.id_hash == row.id_hash).values(last_seen_at=now))
    return PatientSession(UUID(hex=row.patient_id), row.csrf_token, row.via)


def end(engine: Engine, raw: str | None) -> None:
    if raw:
        with engine.begin() as conn:
            conn.execute(delete(patient_sessions).where(
                patient_sessions.c.id_hash == _hash(raw)))
