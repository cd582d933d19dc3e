"""Passwords: argon2 hashing, generated passwords and the minimum length, and password
sign-in (`authenticate`) under the sign-in throttle, audited (docs/access.md "Signing in
and sessions").

Wrong passwords slow sign-in down, by account and by client, and never lock anyone out
(guardian/throttle.py). An e-mail address that has no account behaves exactly the same,
so the answers never reveal who has an account.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, select, update

from guardian import audit, throttle
from guardian.users import records
from guardian.users.records import User, UserError, user_of
from guardian.users.schema import users

MIN_PASSWORD = 8

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    """Check a password; without a hash, spend the same time and fail (no enumeration)."""
    global _dummy_hash
    if password_hash is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_hex(16))
        password_hash = _dummy_hash
        password = "x" + password
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random password of 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)


def chosen_or_generated(password: str | None) -> tuple[str, str | None]:
    """The password to set: the one given, or a generated one (returned second as well, to
    be shown once). Either way at least MIN_PASSWORD characters, or UserError."""
    generated = None
    if password is None:
        password = generated = generate_password()
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters")
    return password, generated


@dataclass(frozen=True)
class SignIn:
    """The outcome of a password sign-in: "ok" (with the user), "bad", or "throttled"
    (with the seconds to wait before trying again)."""

    outcome: str
    user: User | None = None
    wait: int = 0


def authenticate(
    engine: Engine,
    email: str,
    password: str,
    *,
    client: str | None = None,
    user_agent: str | None = None,
    now: dt.datetime | None = None,
) -> SignIn:
    """Check an e-mail and password under the sign-in throttle (guardian/throttle.py), and
    audit the attempt.

    Outcomes: "ok" (with the user); "bad" for a wrong password, an unknown e-mail address
    or a disabled account alike; "throttled" (with `wait` seconds) when the address or the
    client must wait: then the password is not checked at all. Audited as "sign-in",
    "sign-in-failed" (the detail says "disabled" for a disabled account) or
    "sign-in-throttled".
    """
    now = now or records.utcnow()
    shown = (email or "").strip().lower()[:254]
    wait = throttle.claim(engine, shown, client, now)
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.email == shown)).first()
    role = row.role if row is not None else None

    def log(bind: Engine | Connection, action: str, detail: str | None = None) -> None:
        audit.record(bind, action=action, email=shown, role=role, detail=detail,
                     client=client, user_agent=user_agent, at=now)

    if wait:
        log(engine, "sign-in-throttled", f"asked to wait {wait} s")
        return SignIn("throttled", wait=wait)
    # Unknown addresses verify a dummy hash and disabled accounts their own: the same time.
    ok = _verify(row.password_hash if row is not None else None, password or "")
    if row is None or row.disabled or not ok:
        log(engine, "sign-in-failed", "disabled" if row is not None and row.disabled else None)
        return SignIn("bad")
    with engine.begin() as conn:
        values: dict[str, Any] = {"last_sign_in_at": now}
        if _hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = hash_password(password)
        conn.execute(update(users).where(users.c.id == row.id).values(**values))
        throttle.forgive(conn, shown, client)
        log(conn, "sign-in")
    return SignIn("ok", user_of(row))
