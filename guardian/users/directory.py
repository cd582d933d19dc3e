"""Users and their orgs: the roles, checking a role's orgs against the organisation
reference (`resolve_orgs`), creating a user (audited) and finding or listing users, and
every user's name as people read it (`display_names`).

A coordinator has one or more PCN codes, a GP one practice code, a place lead one place
name, an admin none (docs/access.md "Roles and scopes").
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from guardian.store import organisations
from guardian.users import records
from guardian.users.passwords import chosen_or_generated, hash_password
from guardian.users.records import (
    COMMAND_LINE,
    Origin,
    User,
    UserError,
    audit_change,
    first,
    normalise_display_name,
    normalise_email,
    user_of,
)
from guardian.users.schema import users

ROLES = ("coordinator", "gp", "place-lead", "admin")


def resolve_orgs(conn: Connection, role: str, orgs: Sequence[str]) -> tuple[str, ...]:
    """Check a role's orgs against the organisation reference; return them normalised."""
    from guardian.domain.errors import InvalidValue

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
            return _pcns(conn, values)
        if len(values) != 1:
            what = "practice code" if role == "gp" else "place name"
            raise UserError(f"a {role} needs exactly one --org ({what}); got {len(values)}")
        if role == "gp":
            return _practice(conn, values[0])
        return _place(conn, values[0])
    except InvalidValue as e:
        raise UserError(e.message) from None


def _pcns(conn: Connection, values: list[str]) -> tuple[str, ...]:
    from guardian.domain.identifiers import normalise_pcn_code

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
        raise UserError(f"no PCN {', '.join(missing)} in the organisation reference")
    return tuple(codes)


def _practice(conn: Connection, value: str) -> tuple[str, ...]:
    from guardian.domain.identifiers import normalise_practice_code

    code = normalise_practice_code(value)
    found = conn.execute(
        select(organisations.c.practice_code).where(organisations.c.practice_code == code)
    ).scalar()
    if found is None:
        raise UserError(f"no practice {code} in the organisation reference")
    return (code,)


def _place(conn: Connection, value: str) -> tuple[str, ...]:
    places = sorted(set(conn.execute(select(organisations.c.place)).scalars()))
    match = [p for p in places if p.casefold() == value.casefold()]
    if not match:
        raise UserError(
            f"no place {value!r} in the organisation reference; places: " + ", ".join(places)
        )
    return (match[0],)


def add_user(
    engine: Engine,
    email: str,
    role: str,
    orgs: Sequence[str] = (),
    password: str | None = None,
    now: dt.datetime | None = None,
    origin: Origin = COMMAND_LINE,
    display_name: str | None = None,
) -> tuple[User, str | None]:
    """Create a user (audited: add-user), with the name people read when one is given.
    Returns the user and the generated password (None if one was given)."""
    email = normalise_email(email)
    name = normalise_display_name(display_name)
    now = now or records.utcnow()
    password, generated = chosen_or_generated(password)
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
                    created_at=now, disabled=False, display_name=name,
                )
                .returning(users.c.id)
            ).scalar_one()
        except IntegrityError:  # created by someone else in the meantime
            raise UserError(f"a user {email} already exists") from None
        user = User(new_id, email, role, resolved, name)
        audit_change(conn, origin, "add-user", user,
                     f"orgs: {', '.join(resolved) or 'none'}"
                     + (f"; name: {name}" if name else ""), now)
    return user, generated


def find_user(engine_or_conn: Engine | Connection, email: str) -> User | None:
    try:
        email = normalise_email(email)
    except UserError:
        return None
    row = first(engine_or_conn, select(users).where(users.c.email == email))
    return user_of(row) if row is not None else None


def user_by_id(engine_or_conn: Engine | Connection, user_id: int) -> User | None:
    row = first(engine_or_conn, select(users).where(users.c.id == user_id))
    return user_of(row) if row is not None else None


_EVERY_USER = select(users).order_by(users.c.email)  # built once: read on every page


def list_users(bind: Engine | Connection) -> list[User]:
    """Every user (on the caller's connection when given one: never a second at once)."""
    if isinstance(bind, Connection):
        return [user_of(r) for r in bind.execute(_EVERY_USER)]
    with bind.connect() as conn:
        return [user_of(r) for r in conn.execute(_EVERY_USER)]


def display_names(bind: Engine | Connection) -> dict[str, str]:
    """Every user's name as people read it, by e-mail address: the display name, else the
    e-mail address made readable ("robin.coordinator@…" → "Robin Coordinator")."""
    return {u.email: u.name for u in list_users(bind)}


def row_for(conn: Connection, email: str, lock: bool = False) -> Any:
    """The users row of an e-mail address (locked for update with `lock`), or UserError."""
    query = select(users).where(users.c.email == normalise_email(email))
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise UserError(f"no user {email.strip()}")
    return row
