"""The account life cycle: each user's state as `guardian users list` shows it
(`accounts`), and the changes an admin makes to an account: disable, enable and reset the
password (docs/access.md "Accounts").

Disabling a user or setting a new password ends their sessions and revokes their tokens in
the same transaction, and every change is audited in the transaction that makes it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from guardian import throttle
from guardian.users import records
from guardian.users.directory import row_for
from guardian.users.passwords import chosen_or_generated, hash_password
from guardian.users.records import COMMAND_LINE, Change, Origin, User, UserError
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


def disable_user(engine: Engine, email: str, *, origin: Origin = COMMAND_LINE,
                 now: dt.datetime | None = None) -> Change:
    """Disable a user: they cannot sign in or use a token, and their sessions and tokens
    end in the same transaction (audited: disable-user). The last enabled admin cannot be
    disabled. Disabling a disabled user changes nothing."""
    now = now or records.utcnow()
    with engine.begin() as conn:
        row = row_for(conn, email)
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
