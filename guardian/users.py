"""User accounts and credentials: users, password sign-in with lock-out, sessions, API tokens.

Everything here is storage and rules; the web layer (guardian/web/auth.py) turns it into
cookies, forms and a Principal, and the CLI (`guardian users …`) into commands.

- Passwords are stored as argon2 hashes; API tokens and session ids as SHA-256 hashes, so a
  copy of the database gives no working credential.
- Orgs are checked against the organisation reference: a coordinator has one or more PCN
  codes, a GP one practice code, a place lead one place name, an admin none.
- Lock-out: the fifth wrong password in a row locks the account for 15 minutes (then the
  count starts again). An e-mail address that has no account behaves exactly the same (its
  failures are counted from the audit log), so the answers never reveal who has an account.
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
    func,
    insert,
    select,
    update,
)

from guardian import audit
from guardian.store import metadata, organisations

ROLES = ("coordinator", "gp", "place-lead", "admin")
MAX_FAILURES = 5
LOCK_FOR = dt.timedelta(minutes=15)
SESSION_IDLE = dt.timedelta(hours=8)
SESSION_ABSOLUTE = dt.timedelta(hours=12)
MIN_PASSWORD = 8
TOKEN_PREFIX = "gdn_"

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
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
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
    """The outcome of a password sign-in: "ok" (with the user), "bad" or "locked"."""

    outcome: str
    user: User | None = None


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


def add_user(
    engine: Engine,
    email: str,
    role: str,
    orgs: Sequence[str] = (),
    password: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[User, str | None]:
    """Create a user. Returns the user and the generated password (None if one was given)."""
    email = normalise_email(email)
    generated = None
    if password is None:
        password = generated = generate_password()
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters")
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
                    created_at=now or utcnow(),
                )
                .returning(users.c.id)
            ).scalar_one()
        except IntegrityError:  # created by someone else in the meantime
            raise UserError(f"a user {email} already exists") from None
    return User(new_id, email, role, resolved), generated


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


def set_password(engine: Engine, email: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters")
    with engine.begin() as conn:
        done = conn.execute(
            update(users)
            .where(users.c.email == normalise_email(email))
            .values(password_hash=hash_password(password), failed_attempts=0, locked_until=None)
        ).rowcount
    if not done:
        raise UserError(f"no user {email}")


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
    """Check an e-mail and password, applying the lock-out, and audit the attempt.

    Audited as "sign-in", "sign-in-failed" (a wrong password or unknown e-mail) or
    "sign-in-locked" (refused while locked; not counted as a failure).
    """
    now = now or utcnow()
    shown = (email or "").strip().lower()[:254]
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.email == shown)).first()
    ok = _verify(row.password_hash if row is not None else None, password or "")

    def log(action: str, role: str | None = None) -> None:
        audit.record(engine, action=action, email=shown, role=role, client=client,
                     user_agent=user_agent, at=now)

    if row is None:
        failures, last = audit.failures_of(engine, shown)
        if failures and failures % MAX_FAILURES == 0 and last and aware(last) + LOCK_FOR > now:
            log("sign-in-locked")
            return SignIn("locked")
        log("sign-in-failed")
        return SignIn("locked" if (failures + 1) % MAX_FAILURES == 0 else "bad")

    user = _user(row)
    locked_until = aware(row.locked_until)
    if locked_until is not None and locked_until > now:
        log("sign-in-locked", user.role)
        return SignIn("locked")
    with engine.begin() as conn:
        if locked_until is not None:  # the lock has expired: the count starts again
            conn.execute(
                update(users).where(users.c.id == user.id)
                .values(failed_attempts=0, locked_until=None)
            )
        if ok:
            values: dict[str, Any] = {"failed_attempts": 0, "locked_until": None}
            if _hasher.check_needs_rehash(row.password_hash):
                values["password_hash"] = hash_password(password)
            conn.execute(update(users).where(users.c.id == user.id).values(**values))
        else:
            failures = conn.execute(
                update(users).where(users.c.id == user.id)
                .values(failed_attempts=users.c.failed_attempts + 1)
                .returning(users.c.failed_attempts)
            ).scalar_one()
            if failures >= MAX_FAILURES:
                conn.execute(
                    update(users).where(users.c.id == user.id)
                    .values(locked_until=now + LOCK_FOR)
                )
    log("sign-in" if ok else "sign-in-failed", user.role)
    if ok:
        return SignIn("ok", user)
    return SignIn("locked" if failures >= MAX_FAILURES else "bad")


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
    """The live session with this id, or None (unknown, signed out or expired).

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
    if seen + SESSION_IDLE <= now or created + SESSION_ABSOLUTE <= now:
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


def create_token(engine: Engine, email: str, now: dt.datetime | None = None) -> str:
    """A new bearer token for the user (shown once; only its SHA-256 hash is stored)."""
    user = find_user(engine, email)
    if user is None:
        raise UserError(f"no user {email.strip()}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            insert(api_tokens).values(
                token_hash=digest(token), user_id=user.id, created_at=now or utcnow(),
                revoked=False,
            )
        )
    return token


def user_for_token(engine: Engine, token: str, now: dt.datetime | None = None) -> User | None:
    """The user a live (not revoked) token belongs to, or None. Notes when it was last used."""
    now = now or utcnow()
    key = digest(token)
    with engine.connect() as conn:
        row = conn.execute(
            select(users, api_tokens.c.last_used_at)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == key, api_tokens.c.revoked.is_(False))
        ).first()
    if row is None:
        return None
    last = aware(row.last_used_at)
    if last is None or now - last > dt.timedelta(minutes=1):
        with engine.begin() as conn:
            conn.execute(
                update(api_tokens).where(api_tokens.c.token_hash == key)
                .values(last_used_at=now)
            )
    return _user(row)


def revoke_token(engine: Engine, token: str) -> bool:
    with engine.begin() as conn:
        return bool(
            conn.execute(
                update(api_tokens).where(api_tokens.c.token_hash == digest(token))
                .values(revoked=True)
            ).rowcount
        )


def revoke_tokens(engine: Engine, email: str) -> int:
    """Revoke every token of a user; returns how many were live."""
    user = find_user(engine, email)
    if user is None:
        raise UserError(f"no user {email.strip()}")
    with engine.begin() as conn:
        return conn.execute(
            update(api_tokens)
            .where(api_tokens.c.user_id == user.id, api_tokens.c.revoked.is_(False))
            .values(revoked=True)
        ).rowcount


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
