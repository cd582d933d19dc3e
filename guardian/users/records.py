"""The vocabulary every part of the accounts package shares: a `User` and the `UserError`
that says in plain words why one could not be made or found, normalised e-mail addresses,
display names (`normalise_display_name`; `readable_email` for accounts without one), where
an account change comes from (`Origin`), what it did (`Change`) and its audit entry, the
clock (`utcnow`, the one place tests set the time), and the SHA-256 digest under which
tokens and session ids are stored, so that a copy of the database gives no working
credential (docs/access.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from guardian import audit
from guardian.domain.identifiers import is_email_address


class UserError(Exception):
    """A user could not be created or found; the message says why, in plain words."""


DISPLAY_NAME_MAX = 120


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: str
    orgs: tuple[str, ...]
    display_name: str | None = None  # None for accounts made without a name
    enabled: bool = True  # False once disabled (docs/access.md "Accounts")

    @property
    def name(self) -> str:
        """The name people read: the display name, else the e-mail address made readable."""
        return self.display_name or readable_email(self.email)


@dataclass(frozen=True)
class Origin:
    """Where an account change comes from, for its audit entry: the client column ("cli"
    for the command line) and the user-agent column (the command, and who ran it); `by`,
    the signed-in admin who made it in the web app, ends the entry's detail ("…; by
    admin@…"), so that the audit log says who did it."""

    client: str = "cli"
    agent: str | None = None
    by: str | None = None


COMMAND_LINE = Origin()


@dataclass(frozen=True)
class Change:
    """What an account change did: `changed` is False when there was nothing to do."""

    email: str
    changed: bool = True
    sessions_ended: int = 0
    tokens_revoked: int = 0
    password: str | None = None  # a password reset_password generated (shown once)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives back naive datetimes: they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_email(value: str) -> str:
    email = (value or "").strip().lower()
    if not is_email_address(email):
        raise UserError(f"{value!r} is not an email address")
    return email


def normalise_display_name(value: str | None) -> str | None:
    """A display name as stored: spaces trimmed and collapsed; None when blank. Letters,
    accents, apostrophes and hyphens are kept as typed."""
    name = " ".join((value or "").split())
    if not name:
        return None
    if len(name) > DISPLAY_NAME_MAX:
        raise UserError(f"a name has at most {DISPLAY_NAME_MAX} characters; "
                        f"that one has {len(name)}")
    if any(not ch.isprintable() for ch in name) or "<" in name or ">" in name:
        raise UserError("a name is letters, spaces and punctuation such as ' and -")
    return name


def readable_email(email: str) -> str:
    """A name made from an e-mail address for an account without one: the part before the
    @, its dots, underscores and hyphens as spaces, each word capitalised
    ("robin.coordinator@…" → "Robin Coordinator")."""
    local = email.partition("@")[0]
    words = local.replace(".", " ").replace("_", " ").replace("-", " ").replace("+", " ")
    return " ".join(w[:1].upper() + w[1:] for w in words.split()) or email


def user_of(row: Any) -> User:
    """The User of a row of the users table."""
    return User(row.id, row.email, row.role, tuple(json.loads(row.orgs)),
                row.display_name, not row.disabled)


def first(bind: Engine | Connection, query: Any) -> Any:
    """The first row of a query, on the caller's connection when given one."""
    if isinstance(bind, Connection):
        return bind.execute(query).first()
    with bind.connect() as conn:
        return conn.execute(query).first()


def audit_change(conn: Connection, origin: Origin, action: str, row: Any, detail: str,
                 now: dt.datetime) -> None:
    """An account change's audit entry, in the change's own transaction."""
    if origin.by:
        detail = f"{detail}; by {origin.by}"
    audit.record(conn, action=action, email=row.email, role=row.role, detail=detail,
                 client=origin.client, user_agent=origin.agent, at=now)
