"""Server-side sessions: starting one at sign-in, loading the live one behind a cookie, and
ending it. The cookie carries a random id; the row holds only its SHA-256 hash. A session
ends after 8 hours without a request or 12 hours after sign-in, whichever comes first, and
at once when its user is disabled or given a new password (docs/access.md "Signing in and
sessions")."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, delete, insert, select, update

from guardian.users import records
from guardian.users.records import User, aware, digest
from guardian.users.schema import user_sessions, users

SESSION_IDLE = dt.timedelta(hours=8)
SESSION_ABSOLUTE = dt.timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    id_hash: str
    user: User
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime


def live_session(now: dt.datetime) -> Any:
    """The condition of a session that has not ended by `now`."""
    return (user_sessions.c.last_seen_at > now - SESSION_IDLE) & (
        user_sessions.c.created_at > now - SESSION_ABSOLUTE)


def start_session(engine: Engine, user: User, now: dt.datetime | None = None) -> tuple[str, str]:
    """A new session for the user: returns (session id for the cookie, CSRF token)."""
    now = now or records.utcnow()
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        # Expired sessions of this user are cleared as new ones start.
        conn.execute(
            delete(user_sessions).where(
                user_sessions.c.user_id == user.id,
                (user_sessions.c.last_seen_at < now - SESSION_IDLE)
                | (user_sessions.c.created_at < now - SESSION_ABSOLUTE),
            )
        )
        conn.execute(
            insert(user_sessions).values(
                id_hash=digest(session_id), user_id=user.id, csrf_token=csrf,
                created_at=now, last_seen_at=now,
            )
        )
    return session_id, csrf


# Built once: a session is looked up on every request.
_SESSION = (select(user_sessions, users).join(users, users.c.id == user_sessions.c.user_id)
            .where(user_sessions.c.id_hash == bindparam("key")))


def load_session(
    engine: Engine, session_id: str, now: dt.datetime | None = None
) -> Session | None:
    """The live session with this id, or None (unknown, signed out, expired, or its user
    disabled).

    Expiry: 8 hours without a request, or 12 hours after sign-in, whichever comes first.
    `last_seen_at` is written at most once a minute, to keep page views read-only.
    """
    now = now or records.utcnow()
    key = digest(session_id)
    with engine.connect() as conn:
        row = conn.execute(_SESSION, {"key": key}).first()
    if row is None:
        return None
    created, seen = aware(row.created_at), aware(row.last_seen_at)
    assert created is not None and seen is not None
    if seen + SESSION_IDLE <= now or created + SESSION_ABSOLUTE <= now or row.disabled:
        end_session(engine, session_id)
        return None
    if now - seen > dt.timedelta(minutes=1):
        with engine.begin() as conn:
            conn.execute(
                update(user_sessions).where(user_sessions.c.id_hash == key)
                .values(last_seen_at=now)
            )
        seen = now
    user = User(row.user_id, row.email, row.role, tuple(json.loads(row.orgs)),
                row.display_name)
    return Session(key, user, row.csrf_token, created, seen)


def end_session(engine: Engine, session_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.id_hash == digest(session_id)))
