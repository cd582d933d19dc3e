"""One-time sign-in codes for patients (docs/patients.md "Signing in").

A patient gives their NHS number and date of birth; when both match a patient Guardian
holds, a six-digit code is made and sent the way Guardian writes to them (e-mail, valid for
`EMAIL_MINUTES`; or a letter, valid for `LETTER_DAYS`) through the notification outbox.
The code is stored only as an HMAC under the deployment's secret, is bound to that patient,
works once, and allows `TRIES_PER_CODE` guesses.

Guessing is locked out, not just slowed: `NHS_NUMBER` failures (a wrong date of birth, a
wrong or expired code) for one NHS number lock it for a day, and `CLIENT` failures from one
address lock that address for an hour. A refusal for a lock says which key is locked
(`LOCK_KINDS`: "nhs-number", "address"), for the audit log: the kind, never the number or the
address. Whether an NHS number is known is never told: the answers to a known and an
unknown number are the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, and_, delete, insert, select, update

from guardian.domain.identifiers import normalise_nhs_number
from guardian.notifications.outbox import insert_rows
from guardian.notifications.recipients import patient_channel
from guardian.notifications.schema import QUEUED
from guardian.orgs import all_practices
from guardian.patient_access.schema import patient_codes, patient_lockouts
from guardian.store import dialect_insert

EMAIL_MINUTES = 15
LETTER_DAYS = 7
TRIES_PER_CODE = 5
CODES_PER_HOUR = 3  # codes one patient may be sent in an hour


@dataclass(frozen=True)
class Lock:
    failures: int
    within: dt.timedelta
    locked_for: dt.timedelta


NHS_NUMBER = Lock(10, dt.timedelta(days=1), dt.timedelta(days=1))
CLIENT = Lock(50, dt.timedelta(hours=1), dt.timedelta(hours=1))


# What each kind of lock-out key is called in the audit log (docs/patients.md).
LOCK_KINDS = {"nhs": "nhs-number", "client": "address"}


class SignInRefused(Exception):
    """Not signed in: `reason` is "locked" (then `until`, and `locked_by`: the kinds of key
    locked, of LOCK_KINDS), "wrong" or "invalid"."""

    def __init__(self, reason: str, until: dt.datetime | None = None, message: str = "",
                 locked_by: tuple[str, ...] = ()):
        super().__init__(message or reason)
        self.reason, self.until, self.message = reason, until, message
        self.locked_by = locked_by


def _mac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def nhs_key(secret: str, nhs_number: str) -> str:
    return "nhs:" + _mac(secret, "nhs:" + nhs_number)[:40]


def client_key(client: str | None) -> str | None:
    return f"client:{client[:64]}" if client else None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=dt.UTC)


def locks(conn: Connection, keys: list[str], now: dt.datetime) -> dict[str, dt.datetime]:
    """The kind of each of these keys locked at `now` (LOCK_KINDS) and until when: a lock
    runs until its `locked_until`, and is over at that very moment."""
    running: dict[str, dt.datetime] = {}
    for r in conn.execute(select(patient_lockouts.c.key, patient_lockouts.c.locked_until)
                          .where(patient_lockouts.c.key.in_(keys))):
        until = _aware(r.locked_until)
        if until is not None and until > now:
            kind = LOCK_KINDS[r.key.split(":", 1)[0]]
            running[kind] = max(until, running.get(kind, until))
    return running


def locked_until(conn: Connection, keys: list[str], now: dt.datetime) -> dt.datetime | None:
    """The latest lock on any of these keys still running at `now`, or None."""
    return max(locks(conn, keys, now).values(), default=None)


def _refuse_if_locked(running: dict[str, dt.datetime]) -> None:
    """SignInRefused("locked") when any key is locked (`locks`), saying which kinds."""
    if running:
        raise SignInRefused("locked", max(running.values()),
                            locked_by=tuple(k for k in LOCK_KINDS.values() if k in running))


def count_failure(conn: Connection, keys: list[tuple[str, Lock]], now: dt.datetime) -> None:
    """One more failure on each key; a key past its limit is locked."""
    for key, lock in keys:
        row = conn.execute(select(patient_lockouts).where(patient_lockouts.c.key == key)
                           ).first()
        fresh = row is None or now - _aware(row.last_at) > lock.within
        failures = 1 if fresh else row.failures + 1
        until = now + lock.locked_for if failures >= lock.failures else None
        stmt = dialect_insert(conn, patient_lockouts).values(
            key=key, failures=failures, last_at=now, locked_until=until)
        conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={
            "failures": failures, "last_at": now, "locked_until": until}))


def normalise(nhs_number: str) -> str:
    from guardian.domain.errors import DomainError

    try:
        return normalise_nhs_number(nhs_number)
    except DomainError:
        raise SignInRefused("invalid", message="Enter your 10-digit NHS number, for example "
                                               "999 123 4567") from None


def _keys(secret: str, nhs_number: str, client: str | None) -> list[tuple[str, Lock]]:
    keys = [(nhs_key(secret, nhs_number), NHS_NUMBER)]
    if client_key(client):
        keys.append((client_key(client), CLIENT))  # type: ignore[arg-type]
    return keys


def _the_patient(app: Any, nhs_number: str, birth_date: dt.date) -> Any:
    """The patient with this NHS number and date of birth, or None."""
    patient_id = app.patient_id(nhs_number)
    if patient_id not in app.known_patients([patient_id]):
        return None
    patient = app.get_patient(patient_id)
    return patient if patient.birth_date == birth_date else None


def request_code(app: Any, nhs_number: str, birth_date: dt.date, client: str | None,
                 now: dt.datetime) -> str:
    """Send a code when the details match; returns what happened, for the audit log only
    ("sent", "unknown", "locked", "not-contacted", "too-many"): the patient is told the
    same whatever it is."""
    secret = app.settings.session_secret()
    nhs_number = normalise(nhs_number)
    keys = _keys(secret, nhs_number, client)
    with app.engine.begin() as conn:
        if locked_until(conn, [k for k, _ in keys], now):
            return "locked"
    patient = _the_patient(app, nhs_number, birth_date)
    if patient is None:
        with app.engine.begin() as conn:
            count_failure(conn, keys, now)
        return "unknown"
    channel = patient_channel(patient)
    if channel is None:
        return "not-contacted"
    code = f"{secrets.randbelow(10 ** 6):06d}"
    expires = now + (dt.timedelta(minutes=EMAIL_MINUTES) if channel == "email"
                     else dt.timedelta(days=LETTER_DAYS))
    practices = all_practices(app.engine)
    pathways = sorted(patient.pathways.values(), key=lambda p: (not p.is_open, p.received_on))
    practice = practices.get(pathways[0].practice_code) if pathways else None
    with app.engine.begin() as conn:
        recent = conn.execute(select(patient_codes.c.id).where(
            patient_codes.c.patient_id == patient.id.hex,
            patient_codes.c.made_at > now - dt.timedelta(hours=1))).all()
        if len(recent) >= CODES_PER_HOUR:
            return "too-many"
        code_id = conn.execute(insert(patient_codes).values(
            patient_id=patient.id.hex, code_hash=_mac(secret, f"code:{patient.id.hex}:{code}"),
            channel=channel, made_at=now, expires_at=expires, attempts=0)).inserted_primary_key[0]
        context = {"code": code, "expires_at": expires.isoformat(), "channel": channel,
                   "pcn_code": practice.pcn_code if practice else None,
                   "practice_code": practice.practice_code if practice else None}
        insert_rows(conn, [{
            "key": f"sign-in-code:{code_id}|sign-in-code|patient|{channel}",
            "kind": "sign-in-code", "channel": channel, "recipient": "patient",
            "user_id": None, "patient_id": patient.id.hex, "provider": None,
            "pathway_id": None, "context": json.dumps(context, sort_keys=True),
            "created_at": now, "due_at": now, "status": QUEUED, "attempts": 0}])
    return "sent"


def verify_code(app: Any, nhs_number: str, birth_date: dt.date, code: str,
                client: str | None, now: dt.datetime) -> UUID:
    """The patient the code was sent to, or SignInRefused ("locked" or "wrong")."""
    secret = app.settings.session_secret()
    nhs_number = normalise(nhs_number)
    keys = _keys(secret, nhs_number, client)
    code = "".join(code.split())
    with app.engine.begin() as conn:
        running = locks(conn, [k for k, _ in keys], now)
    _refuse_if_locked(running)
    patient = _the_patient(app, nhs_number, birth_date)
    with app.engine.begin() as conn:
        row = None
        if patient is not None:
            c = patient_codes
            row = conn.execute(select(c).where(
                c.c.patient_id == patient.id.hex, c.c.used_at.is_(None),
                c.c.expires_at > now, c.c.attempts < TRIES_PER_CODE,
            ).order_by(c.c.id.desc()).limit(1)).first()
        right = row is not None and code.isdigit() and hmac.compare_digest(
            row.code_hash, _mac(secret, f"code:{patient.id.hex}:{code}"))
        if not right:
            if row is not None:
                conn.execute(update(patient_codes).where(patient_codes.c.id == row.id)
                             .values(attempts=patient_codes.c.attempts + 1))
            count_failure(conn, keys, now)
            running = locks(conn, [k for k, _ in keys], now)  # this failure may lock
        else:
            used = conn.execute(update(patient_codes).where(and_(
                patient_codes.c.id == row.id, patient_codes.c.used_at.is_(None)))
                .values(used_at=now))
            right = used.rowcount == 1  # a second use of the same code at once loses
            conn.execute(delete(patient_lockouts).where(
                patient_lockouts.c.key == keys[0][0]))
    _refuse_if_locked(running)
    if not right:
        raise SignInRefused("wrong")
    return patient.id
