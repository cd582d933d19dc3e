"""The account life cycle: each user's state as `guardian users list` shows it
(`accounts`), and the changes an admin makes to an account: disable, enable, reset the
password, change the name, role and scope (docs/access.md "Accounts").

Disabling a user or setting a new password ends their sessions and revokes their tokens in
the same transaction, and every change is audited in the transaction that makes it. The
rules that keep someone in charge live here, whichever door the change comes through (the
command line or the web app): the last enabled admin stays an enabled admin, and an admin
who says who they are (`actor`) cannot disable themselves or change their own role.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from guardian import throttle
from guardian.users import records
from guardian.users.directory import resolve_orgs, row_for
from guardian.users.passwords import chosen_or_generated, hash_password
from guardian.users.records import (
    COMMAND_LINE,
    Change,
    Origin,
    User,
    UserError,
    normalise_display_name,
    normalise_email,
)
from guardian.users.schema import api_tokens, user_sessions, users
from guardian.users.sessions import live_session
from guardian.users.tokens import live_token


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

        return {"email": self.user.email, "display_name": self.user.display_name,
                "role": self.user.role,
                "orgs": list(self.user.orgs), "enabled": self.enabled,
                "created_at": when(self.created_at), "last_sign_in": when(self.last_sign_in),
                "tokens": self.tokens, "sessions": self.sessions,
                "last_token_use": when(self.last_token_use)}


def accounts(engine: Engine, now: dt.datetime | None = None) -> list[Account]:
    """Every user with their state, live credentials and last uses, by e-mail."""
    now = now or records.utcnow()
    with engine.connect() as conn:
        rows = conn.execute(select(users).order_by(users.c.email)).all()
        tokens = dict(conn.execute(
            select(api_tokens.c.user_id, func.count()).where(live_token(now))
            .group_by(api_tokens.c.user_id)).all())
        used = dict(conn.execute(
            select(api_tokens.c.user_id, func.max(api_tokens.c.last_used_at))
            .group_by(api_tokens.c.user_id)).all())
        sessions = dict(conn.execute(
            select(user_sessions.c.user_id, func.count()).where(live_session(now))
            .group_by(user_sessions.c.user_id)).all())
    return [
        Account(records.user_of(r), not r.disabled, records.aware(r.created_at),
                records.aware(r.last_sign_in_at), int(tokens.get(r.id, 0)),
                int(sessions.get(r.id, 0)), records.aware(used.get(r.id)))
        for r in rows
    ]


def _end_credentials(conn: Connection, origin: Origin, action: str, row: Any,
                     now: dt.datetime) -> tuple[int, int]:
    """End every session and revoke every token of a user, and audit the change that did
    it: returns (sessions, tokens) ended."""
    sessions = conn.execute(delete(user_sessions).where(user_sessions.c.user_id == row.id))
    tokens = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.user_id == row.id, api_tokens.c.revoked.is_(False))
        .values(revoked=True)
    )
    ended = sessions.rowcount, tokens.rowcount
    records.audit_change(conn, origin, action, row,
                         f"sessions ended: {ended[0]}; tokens revoked: {ended[1]}", now)
    return ended


def _is_actor(row: Any, actor: str | None) -> bool:
    return actor is not None and normalise_email(actor) == row.email


def _other_admins(conn: Connection, row: Any) -> bool:
    """Whether an enabled admin other than `row` remains. Every enabled admin is locked,
    always in id order, before deciding: two admins changed at once cannot each leave the
    other as the last one."""
    admins = conn.execute(
        select(users.c.id).where(users.c.role == "admin", users.c.disabled.is_(False))
        .order_by(users.c.id).with_for_update()
    ).scalars().all()
    return bool(set(admins) - {row.id})


def _keep_in_charge(conn: Connection, row: Any, actor: str | None, *, yourself: str,
                    last: str) -> None:
    """Refuse a change that the actor makes to themselves, or that leaves no enabled
    admin (UserError saying which, in the words given)."""
    if _is_actor(row, actor):
        raise UserError(f"you cannot {yourself}: ask another admin")
    if row.role == "admin" and not row.disabled and not _other_admins(conn, row):
        raise UserError(f"{row.email} is the last enabled admin and {last}: add or enable "
                        "another admin first")


def disable_user(engine: Engine, email: str, *, origin: Origin = COMMAND_LINE,
                 now: dt.datetime | None = None, actor: str | None = None) -> Change:
    """Disable a user: they cannot sign in or use a token, and their sessions and tokens
    end in the same transaction (audited: disable-user). The last enabled admin cannot be
    disabled, nor can the `actor` (the admin making the change) disable themselves.
    Disabling a disabled user changes nothing."""
    now = now or records.utcnow()
    with engine.begin() as conn:
        row = row_for(conn, email)
        _keep_in_charge(conn, row, actor, yourself="disable your own account",
                        last="cannot be disabled")
        row = row_for(conn, email, lock=True)
        if row.disabled:
            return Change(row.email, changed=False)
        conn.execute(update(users).where(users.c.id == row.id).values(disabled=True))
        sessions, tokens = _end_credentials(conn, origin, "disable-user", row, now)
    return Change(row.email, sessions_ended=sessions, tokens_revoked=tokens)


def enable_user(engine: Engine, email: str, *, origin: Origin = COMMAND_LINE,
                now: dt.datetime | None = None) -> Change:
    """Let a disabled user sign in again (audited: enable-user). Their old tokens stay
    revoked."""
    now = now or records.utcnow()
    with engine.begin() as conn:
        row = row_for(conn, email, lock=True)
        if not row.disabled:
            return Change(row.email, changed=False)
        conn.execute(update(users).where(users.c.id == row.id).values(disabled=False))
        records.audit_change(conn, origin, "enable-user", row, "enabled", now)
    return Change(row.email)


def reset_password(engine: Engine, email: str, password: str | None = None, *,
                   origin: Origin = COMMAND_LINE, now: dt.datetime | None = None) -> Change:
    """Set a new password (generated when none is given: `Change.password`). The user's
    sessions end and their tokens are revoked in the same transaction, and any sign-in
    delay on the account is lifted (audited: reset-password)."""
    now = now or records.utcnow()
    password, generated = chosen_or_generated(password)
    new_hash = hash_password(password)  # before the transaction: argon2 takes a while
    with engine.begin() as conn:
        row = row_for(conn, email, lock=True)
        conn.execute(
            update(users).where(users.c.id == row.id)
            .values(password_hash=new_hash, failed_attempts=0, locked_until=None)
        )
        throttle.clear_account(conn, row.email)
        sessions, tokens = _end_credentials(conn, origin, "reset-password", row, now)
    return Change(row.email, sessions_ended=sessions, tokens_revoked=tokens,
                  password=generated)


def change_user(engine: Engine, email: str, *, role: str | None = None,
                orgs: Sequence[str] | None = None, display_name: str | None = None,
                actor: str | None = None, origin: Origin = COMMAND_LINE,
                now: dt.datetime | None = None) -> Change:
    """Change a user's role and scope, and their name (audited: change-user, the detail
    saying what changed from what). `role` None keeps the role; `orgs` None keeps the orgs
    when the role stays (a new role needs its own); `display_name` None keeps the name, ""
    removes it. Refused: the `actor` changing their own role, and taking the admin role
    from the last enabled admin. The user's sessions and tokens carry on: the next request
    they make is answered in their new scope."""
    now = now or records.utcnow()
    with engine.begin() as conn:
        row = row_for(conn, email)
        new_role = role.strip() if role is not None else row.role
        if new_role != row.role:  # the admins are locked before the user, as on disabling
            _keep_in_charge(conn, row, actor, yourself="change your own role",
                            last="must stay an admin")
        row = row_for(conn, email, lock=True)
        old_orgs = tuple(json.loads(row.orgs))
        if orgs is None and new_role == row.role:
            new_orgs = old_orgs
        else:
            new_orgs = resolve_orgs(conn, new_role, orgs or ())
        name = (row.display_name if display_name is None
                else normalise_display_name(display_name))
        said = []
        if new_role != row.role:
            said.append(f"role: {row.role} → {new_role}")
        if new_orgs != old_orgs:
            said.append(f"orgs: {', '.join(old_orgs) or 'none'} → "
                        f"{', '.join(new_orgs) or 'none'}")
        if name != row.display_name:
            said.append(f"name: {row.display_name or 'none'} → {name or 'none'}")
        if not said:
            return Change(row.email, changed=False)
        conn.execute(update(users).where(users.c.id == row.id).values(
            role=new_role, orgs=json.dumps(list(new_orgs)), display_name=name))
        records.audit_change(conn, origin, "change-user", row, "; ".join(said), now)
    return Change(row.email)
