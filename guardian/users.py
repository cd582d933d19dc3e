"""User accounts and credentials: users, password sign-in, sessions, API tokens, and the
account life cycle (docs/access.md).

Everything here is storage and rules; the web layer (guardian/web/auth.py) turns it into
cookies, forms and a Principal, and the CLI (`guardian users …`) into commands.

- Passwords are stored as argon2 hashes; API tokens and session ids as SHA-256 hashes, so a
  copy of the database gives no working credential.
- Orgs are checked against the organisation reference: a coordinator has one or more PCN
  codes, a GP one practice code, a place lead one place name, an admin none.
- Wrong passwords slow sign-in down, by account and by client, and never lock anyone out
  (guardian/throttle.py). An e-mail address that has no account behaves exactly the same,
  so the answers never reveal who has an account.
- Disabling a user or setting a new password ends their sessions and revokes their tokens
  in the same transaction; tokens expire (GUARDIAN_TOKEN_DAYS). Every change to an account
  is audited in the transaction that makes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    false,
    func,
    insert,
    select,
    update,
)

from guardian import audit, throttle
from guardian.store import metadata, organisations

ROLES = ("coordinator", "gp", "place-lead", "admin")
SESSION_IDLE = dt.timedelta(hours=8)
SESSION_ABSOLUTE = dt.timedelta(hours=12)
MIN_PASSWORD = 8
TOKEN_PREFIX = "gdn_"
TOKEN_DAYS = 90  # the default of GUARDIAN_TOKEN_DAYS (guardian/config.py)
LAST_USED_EVERY = dt.timedelta(minutes=1)  # a token's last use is written at most this often

DEMO_USERS = (
    ("coordinator", "coordinator@demo.invalid"),
    ("coordinator", "robin.coordinator@demo.invalid"),  # a colleague on the same PCNs
    ("gp", "gp@demo.invalid"),
    ("place-lead", "place-lead@demo.invalid"),
    ("admin", "admin@demo.invalid"),
)
DEMO_LOGINS_FILE = "demo-logins.txt"

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("orgs", Text, nullable=False),  # JSON list: PCN codes, a practice code or a place
    Column("password_hash", Text, nullable=False),
    # Kept for databases made before sign-in throttling (guardian/throttle.py); unused.
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Added by a later version: `guardian db init` adds them to an existing table
    # (store.create_schema), so each is nullable or has a server default.
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("last_sign_in_at", DateTime(timezone=True)),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("expires_at", DateTime(timezone=True)),  # set for every token (db init fills in)
    Index("api_tokens_user", "user_id"),
)

# Server-side sessions: the cookie carries a random id (signed); the row holds its hash.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Index("user_sessions_user", "user_id"),
)


class UserError(Exception):
    """A user could not be created or found; the message says why, in plain words."""


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: str
    orgs: tuple[str, ...]


@dataclass(frozen=True)
class SignIn:
    """The outcome of a password sign-in: "ok" (with the user), "bad", or "throttled"
    (with the seconds to wait before trying again)."""

    outcome: str
    user: User | None = None
    wait: int = 0


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives back naive datetimes: they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


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


# ---------------------------------------------------------------------------- accounts


def normalise_email(value: str) -> str:
    email = (value or "").strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 254:
        raise UserError(f"{value!r} is not an e-mail address")
    return email


def resolve_orgs(conn: Connection, role: str, orgs: Sequence[str]) -> tuple[str, ...]:
    """Check a role's orgs against the organisation reference; return them normalised."""
    from guardian.domain.errors import InvalidValue
    from guardian.domain.identifiers import normalise_pcn_code, normalise_practice_code

    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    values = [o.strip() for o in orgs if o.strip()]
    if role == "admin":
        if values:
            raise UserError("an admin has no --org (admins see everything)")
        return ()
    if not conn.execute(select(func.count()).select_from(organisations)).scalar():
        raise UserError(
            "the organisation reference is empty: load it first (guardian orgs load FILE.csv)"
        )
    try:
        if role == "coordinator":
            if not values:
                raise UserError("a coordinator needs at least one --org PCN code")
            codes = list(dict.fromkeys(normalise_pcn_code(v) for v in values))
            known = set(
                conn.execute(
                    select(organisations.c.pcn_code).where(organisations.c.pcn_code.in_(codes))
                ).scalars()
            )
            missing = [c for c in codes if c not in known]
            if missing:
                raise UserError(
                    f"no PCN {', '.join(missing)} in the organisation reference"
                )
            return tuple(codes)
        if len(values) != 1:
            what = "practice code" if role == "gp" else "place name"
            raise UserError(f"a {role} needs exactly one --org ({what}); got {len(values)}")
        if role == "gp":
            code = normalise_practice_code(values[0])
            found = conn.execute(
                select(organisations.c.practice_code).where(
                    organisations.c.practice_code == code
                )
            ).scalar()
            if found is None:
                raise UserError(f"no practice {code} in the organisation reference")
            return (code,)
        places = sorted(set(conn.execute(select(organisations.c.place)).scalars()))
        match = [p for p in places if p.casefold() == values[0].casefold()]
        if not match:
            raise UserError(
                f"no place {values[0]!r} in the organisation reference; places: "
                + ", ".join(places)
            )
        return (match[0],)
    except InvalidValue as e:
        raise UserError(e.message) from None


def _user(row: Any) -> User:
    return User(row.id, row.email, row.role, tuple(json.loads(row.orgs)))


@dataclass(frozen=True)
class Origin:
    """Where an account change comes from, for its audit entry: the client column ("cli"
    for the command line) and the user-agent column (the command, and who ran it)."""

    client: str = "cli"
    agent: str | None = None


COMMAND_LINE = Origin()


@dataclass(frozen=True)
class Change:
    """What an account change did: `changed` is False when there was nothing to do."""

    email: str
    changed: bool = True
    sessions_ended: int = 0
    tokens_revoked: int = 0
    password: str | None = None  # a password reset_password generated (shown once)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters")


def _audit(conn: Connection, origin: Origin, action: str, row: Any, detail: str,
           now: dt.datetime) -> None:
    """An account change's audit entry, in the change's own transaction."""
    audit.record(conn, action=action, email=row.email, role=row.role, detail=detail,
                 client=origin.client, user_agent=origin.agent, at=now)


def add_user(
    engine: Engine,
    email: str,
    role: str,
    orgs: Sequence[str] = (),
    password: str | None = None,
    now: dt.datetime | None = None,
    origin: Origin = COMMAND_LINE,
) -> tuple[User, str | None]:
    """Create a user (audited: add-user). Returns the user and the generated password
    (None if one was given)."""
    email = normalise_email(email)
    now = now or utcnow()
    generated = None
    if password is None:
        password = generated = generate_password()
    _check_password(password)
    with engine.begin() as conn:
        resolved = resolve_orgs(conn, role, orgs)
        if conn.execute(select(users.c.id).where(users.c.email == email)).scalar() is not None:
            raise UserError(f"a user {email} already exists")
        from sqlalchemy.exc import IntegrityError

        try:
            new_id = conn.execute(
                insert(users)
                .values(
                    email=email, role=role, orgs=json.dumps(list(resolved)),
                    password_hash=hash_password(password), failed_attempts=0,
                    created_at=now, disabled=False,
                )
                .returning(users.c.id)
            ).scalar_one()
        except IntegrityError:  # created by someone else in the meantime
            raise UserError(f"a user {email} already exists") from None
        user = User(new_id, email, role, resolved)
        _audit(conn, origin, "add-user", user,
               f"orgs: {', '.join(resolved) or 'none'}", now)
    return user, generated


def find_user(engine_or_conn: Engine | Connection, email: str) -> User | None:
    try:
        email = normalise_email(email)
    except UserError:
        return None
    row = _one(engine_or_conn, select(users).where(users.c.email == email))
    return _user(row) if row is not None else None


def user_by_id(engine_or_conn: Engine | Connection, user_id: int) -> User | None:
    row = _one(engine_or_conn, select(users).where(users.c.id == user_id))
    return _user(row) if row is not None else None


def list_users(bind: Engine | Connection) -> list[User]:
    """Every user (on the caller's connection when given one: never a second at once)."""
    query = select(users).order_by(users.c.email)
    if isinstance(bind, Connection):
        return [_user(r) for r in bind.execute(query)]
    with bind.connect() as conn:
        return [_user(r) for r in conn.execute(query)]


def _one(bind: Engine | Connection, query: Any) -> Any:
    if isinstance(bind, Connection):
        return bind.execute(query).first()
    with bind.connect() as conn:
        return conn.execute(query).first()


# ---------------------------------------------------------------------------- life cycle


@dataclass(frozen=True)
class Account:
    """A user as `guardian users list` shows them: live tokens are neither revoked nor
    expired; live sessions have not ended (8 hours idle, 12 hours in all)."""

    user: User
    enabled: bool
    created_at: dt.datetime
    last_sign_in: dt.datetime | None
    tokens: int
    sessions: int
    last_token_use: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        def when(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {"email": self.user.email, "role": self.user.role,
                "orgs": list(self.user.orgs), "enabled": self.enabled,
                "created_at": when(self.created_at), "last_sign_in": when(self.last_sign_in),
                "tokens": self.tokens, "sessions": self.sessions,
                "last_token_use": when(self.last_token_use)}


def _live_token(now: dt.datetime) -> Any:
    return api_tokens.c.revoked.is_(False) & (api_tokens.c.expires_at > now)


def _live_session(now: dt.datetime) -> Any:
    return (user_sessions.c.last_seen_at > now - SESSION_IDLE) & (
        user_sessions.c.created_at > now - SESSION_ABSOLUTE)


def accounts(engine: Engine, now: dt.datetime | None = None) -> list[Account]:
    """Every user with their state, live credentials and last uses, by e-mail."""
    now = now or utcnow()
    with engine.connect() as conn:
        rows = conn.execute(select(users).order_by(users.c.email)).all()
        tokens = dict(conn.execute(
            select(api_tokens.c.user_id, func.count()).where(_live_token(now))
            .group_by(api_tokens.c.user_id)).all())
        used = dict(conn.execute(
            select(api_tokens.c.user_id, func.max(api_tokens.c.last_used_at))
            .group_by(api_tokens.c.user_id)).all())
        sessions = dict(conn.execute(
            select(user_sessions.c.user_id, func.count()).where(_live_session(now))
            .group_by(user_sessions.c.user_id)).all())
    return [
        Account(_user(r), not r.disabled, aware(r.created_at), aware(r.last_sign_in_at),
                int(tokens.get(r.id, 0)), int(sessions.get(r.id, 0)), aware(used.get(r.id)))
        for r in rows
    ]


def _row(conn: Connection, email: str, lock: bool = False) -> Any:
    query = select(users).where(users.c.email == normalise_email(email))
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise UserError(f"no user {email.strip()}")
    return row


def _end_credentials(conn: Connection, user_id: int) -> tuple[int, int]:
    """End every session and revoke every token of a user: (sessions, tokens) ended."""
    sessions = conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))
    tokens = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked.is_(False))
        .values(revoked=True)
    )
    return sessions.rowcount, tokens.rowcount


def disable_user(engine: Engine, email: str, *, origin: Origin = COMMAND_LINE,
                 now: dt.datetime | None = None) -> Change:
    """Disable a user: they cannot sign in or use a token, and their sessions and tokens
    end in the same transaction (audited: disable-user). The last enabled admin cannot be
    disabled. Disabling a disabled user changes nothing."""
    now = now or utcnow()
    with engine.begin() as conn:
        row = _row(conn, email)
        if row.role == "admin" and not row.disabled:
            # Lock every enabled admin, always in id order, before deciding: two admins
            # disabled at once cannot each leave the other as the last one.
            admins = conn.execute(
                select(users.c.id).where(users.c.role == "admin", users.c.disabled.is_(False))
                .order_by(users.c.id).with_for_update()
            ).scalars().all()
            if not set(admins) - {row.id}:
                raise UserError(
                    f"{row.email} is the last enabled admin and cannot be disabled: add or "
                    "enable another admin first"
                )
        row = _row(conn, email, lock=True)
        if row.disabled:
            return Change(row.email, changed=False)
        conn.execute(update(users).where(users.c.id == row.id).values(disabled=True))
        sessions, tokens = _end_credentials(conn, row.id)
        _audit(conn, origin, "disable-user", row,
               f"sessions ended: {sessions}; tokens revoked: {tokens}", now)
    return Change(row.email, sessions_ended=sessions, tokens_revoked=tokens)


def enable_user(engine: Engine, email: str, *, origin: Origin = COMMAND_LINE,
                now: dt.datetime | None = None) -> Change:
    """Let a disabled user sign in again (audited: enable-user). Their old tokens stay
    revoked."""
    now = now or utcnow()
    with engine.begin() as conn:
        row = _row(conn, email, lock=True)
        if not row.disabled:
            return Change(row.email, changed=False)
        conn.execute(update(users).where(users.c.id == row.id).values(disabled=False))
        _audit(conn, origin, "enable-user", row, "enabled", now)
    return Change(row.email)


def reset_password(engine: Engine, email: str, password: str | None = None, *,
                   origin: Origin = COMMAND_LINE, now: dt.datetime | None = None) -> Change:
    """Set a new password (generated when none is given: `Change.password`). The user's
    sessions end and their tokens are revoked in the same transaction, and any sign-in
    delay on the account is lifted (audited: reset-password)."""
    now = now or utcnow()
    generated = None
    if password is None:
        password = generated = generate_password()
    _check_password(password)
    new_hash = hash_password(password)  # before the transaction: argon2 takes a while
    with engine.begin() as conn:
        row = _row(conn, email, lock=True)
        conn.execute(
            update(users).where(users.c.id == row.id)
            .values(password_hash=new_hash, failed_attempts=0, locked_until=None)
        )
        sessions, tokens = _end_credentials(conn, row.id)
        throttle.clear_account(conn, row.email)
        _audit(conn, origin, "reset-password", row,
               f"sessions ended: {sessions}; tokens revoked: {tokens}", now)
    return Change(row.email, sessions_ended=sessions, tokens_revoked=tokens,
                  password=generated)


# ---------------------------------------------------------------------------- sign-in


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
    now = now or utcnow()
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
    return SignIn("ok", _user(row))


# ---------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class Session:
    id_hash: str
    user: User
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime


def start_session(engine: Engine, user: User, now: dt.datetime | None = None) -> tuple[str, str]:
    """A new session for the user: returns (session id for the cookie, CSRF token)."""
    now = now or utcnow()
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


def load_session(
    engine: Engine, session_id: str, now: dt.datetime | None = None
) -> Session | None:
    """The live session with this id, or None (unknown, signed out, expired, or its user
    disabled).

    Expiry: 8 hours without a request, or 12 hours after sign-in, whichever comes first.
    `last_seen_at` is written at most once a minute, to keep page views read-only.
    """
    now = now or utcnow()
    key = digest(session_id)
    with engine.connect() as conn:
        row = conn.execute(
            select(user_sessions, users)
            .join(users, users.c.id == user_sessions.c.user_id)
            .where(user_sessions.c.id_hash == key)
        ).first()
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
    user = User(row.user_id, row.email, row.role, tuple(json.loads(row.orgs)))
    return Session(key, user, row.csrf_token, created, seen)


def end_session(engine: Engine, session_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.id_hash == digest(session_id)))


# ---------------------------------------------------------------------------- API tokens


def create_token(engine: Engine, email: str, now: dt.datetime | None = None,
                 days: int = TOKEN_DAYS, origin: Origin = COMMAND_LINE) -> str:
    """A new bearer token for the user, valid for `days` (shown once; only its SHA-256
    hash is stored; audited: create-token). A disabled user gets none."""
    now = now or utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = now + dt.timedelta(days=days)
    with engine.begin() as conn:
        row = _row(conn, email)
        if row.disabled:
            raise UserError(f"{row.email} is disabled: enable them first "
                            "(guardian users enable)")
        conn.execute(
            insert(api_tokens).values(
                token_hash=digest(token), user_id=row.id, created_at=now, revoked=False,
                expires_at=expires,
            )
        )
        _audit(conn, origin, "create-token", row, f"expires {expires:%Y-%m-%d %H:%M} UTC",
               now)
    return token


def user_for_token(engine: Engine, token: str, now: dt.datetime | None = None) -> User | None:
    """The user a live token belongs to (not revoked, not expired, its user enabled), or
    None. Notes when it was last used, writing at most once a minute per token so that the
    requests of a busy script stay read-only."""
    now = now or utcnow()
    key = digest(token)
    with engine.connect() as conn:
        row = conn.execute(
            select(users, api_tokens.c.last_used_at, api_tokens.c.expires_at)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == key, api_tokens.c.revoked.is_(False),
                   users.c.disabled.is_(False))
        ).first()
    if row is None:
        return None
    expires = aware(row.expires_at)
    if expires is None or expires <= now:
        return None
    last = aware(row.last_used_at)
    if last is None or now - last >= LAST_USED_EVERY:
        with engine.begin() as conn:
            conn.execute(
                update(api_tokens).where(api_tokens.c.token_hash == key)
                .values(last_used_at=now)
            )
    return _user(row)


def revoke_token(engine: Engine, token: str, *, origin: Origin = COMMAND_LINE,
                 now: dt.datetime | None = None) -> bool:
    """Revoke one token, whoever's it is (audited: revoke-token). False if it was unknown
    or already revoked."""
    now = now or utcnow()
    with engine.begin() as conn:
        row = conn.execute(
            select(users).join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == digest(token))
        ).first()
        if row is None:
            return False
        done = conn.execute(
            update(api_tokens)
            .where(api_tokens.c.token_hash == digest(token), api_tokens.c.revoked.is_(False))
            .values(revoked=True)
        ).rowcount
        if done:
            _audit(conn, origin, "revoke-token", row, "tokens revoked: 1", now)
    return bool(done)


def revoke_tokens(engine: Engine, email: str, token: str | None = None, *,
                  every: bool = False, origin: Origin = COMMAND_LINE,
                  now: dt.datetime | None = None) -> Change:
    """Revoke a user's tokens (audited: revoke-token): all of them with `every`; else the
    `token` given, which must be one of theirs; else their only live token (with several,
    which one is not guessed: UserError)."""
    now = now or utcnow()
    with engine.begin() as conn:
        row = _row(conn, email, lock=True)
        mine = (api_tokens.c.user_id == row.id) & api_tokens.c.revoked.is_(False)
        if every:
            which = mine
        elif token is not None:
            which = mine & (api_tokens.c.token_hash == digest(token.strip()))
            if conn.execute(select(api_tokens.c.id).where(which)).first() is None:
                raise UserError(f"that token is not a token of {row.email} that is still "
                                "valid (unknown, someone else's, or already revoked)")
        else:
            live = conn.execute(
                select(api_tokens.c.id).where(api_tokens.c.user_id == row.id,
                                              _live_token(now))).scalars().all()
            if not live:
                raise UserError(f"{row.email} has no live token")
            if len(live) > 1:
                raise UserError(
                    f"{row.email} has {len(live)} live tokens: give the one to revoke "
                    "(--token-stdin), or revoke them all (--all)")
            which = api_tokens.c.id == live[0]
        done = conn.execute(update(api_tokens).where(which).values(revoked=True)).rowcount
        _audit(conn, origin, "revoke-token", row,
               f"tokens revoked: {done}" + (" (all)" if every else ""), now)
    return Change(row.email, changed=bool(done), tokens_revoked=done)


def upgrade(engine: Engine, token_days: int = TOKEN_DAYS) -> int:
    """Run by `guardian db init` after the tables: tokens made before tokens expired get an
    expiry `token_days` after they were made. Returns how many were given one."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(api_tokens.c.id, api_tokens.c.created_at)
            .where(api_tokens.c.expires_at.is_(None))
        ).all()
        for token_id, created in rows:
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == token_id)
                .values(expires_at=aware(created) + dt.timedelta(days=token_days))
            )
    return len(rows)


# ---------------------------------------------------------------------------- demo users


def demo_orgs(engine: Engine) -> dict[str, list[str]]:
    """Orgs for the demo users, from the organisation table (`demo_orgs_of`)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(organisations.c.practice_code, organisations.c.pcn_code,
                   organisations.c.place)
        ).all()
    return demo_orgs_of(rows)


def demo_orgs_of(practices: Iterable[Any]) -> dict[str, list[str]]:
    """Orgs for the demo users: a coordinator covering two PCNs of one place, a GP in the
    first of them, the place lead of that place (the first place with two PCNs, by code).
    `practices`: anything with practice_code, pcn_code and place."""
    rows = sorted(practices, key=lambda r: (r.pcn_code, r.practice_code))
    pcns_by_place: dict[str, list[str]] = {}
    for r in rows:
        pcns = pcns_by_place.setdefault(r.place, [])
        if r.pcn_code not in pcns:
            pcns.append(r.pcn_code)
    place = next((p for p, pcns in pcns_by_place.items() if len(pcns) >= 2), None)
    if place is None:
        raise UserError("the demo users need a place with at least two PCNs")
    pcns = pcns_by_place[place][:2]
    practice = next(r.practice_code for r in rows if r.pcn_code == pcns[0])
    return {"coordinator": pcns, "gp": [practice], "place-lead": [place], "admin": []}


def ensure_demo_users(engine: Engine, var_dir: Path) -> dict[str, Any]:
    """Create the demo users that are missing (one shared password), and write the log-ins
    to var/demo-logins.txt. Existing users are never changed. Returns
    {"created": [emails], "file": path, "password": the new password or None}."""
    path = Path(var_dir) / DEMO_LOGINS_FILE
    missing = [(role, email) for role, email in DEMO_USERS if find_user(engine, email) is None]
    if not missing:
        return {"created": [], "file": str(path) if path.exists() else None, "password": None}
    orgs = demo_orgs(engine)
    password = _password_from(path) if len(missing) < len(DEMO_USERS) else None
    password = password or generate_password()
    for role, email in missing:
        add_user(engine, email, role, orgs[role], password)
    _write_logins(path, password, orgs)
    return {"created": [e for _, e in missing], "file": str(path), "password": password}


def _password_from(path: Path) -> str | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("password:"):
                return line.split(":", 1)[1].strip() or None
    except OSError:
        return None
    return None


def _write_logins(path: Path, password: str, orgs: dict[str, list[str]]) -> None:
    lines = [
        "Guardian demo log-ins (synthetic data only): sign in at http://127.0.0.1:8000/sign-in",
        f"password: {password}",
        "",
    ]
    describe = {
        "coordinator": "PCNs " + ", ".join(orgs["coordinator"]),
        "gp": "practice " + ", ".join(orgs["gp"]),
        "place-lead": "place " + ", ".join(orgs["place-lead"]),
        "admin": "everything",
    }
    for role, email in DEMO_USERS:
        lines.append(f"{role:<12} {email:<31} {describe[role]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
