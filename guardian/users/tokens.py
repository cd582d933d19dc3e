"""API bearer tokens: creating one for a user (shown once; only its SHA-256 hash is kept),
finding the user a live token belongs to, and revoking tokens, each change audited. A token
expires GUARDIAN_TOKEN_DAYS after it is made, and stops working at once when revoked or
when its user is disabled (docs/access.md "API tokens")."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from guardian.users import records
from guardian.users.directory import row_for
from guardian.users.records import (
    COMMAND_LINE,
    Change,
    Origin,
    User,
    UserError,
    audit_change,
    aware,
    digest,
    user_of,
)
from guardian.users.schema import TOKEN_DAYS, api_tokens, users

TOKEN_PREFIX = "gdn_"
LAST_USED_EVERY = dt.timedelta(minutes=1)  # a token's last use is written at most this often


def live_token(now: dt.datetime) -> Any:
    """The condition of a token that is neither revoked nor expired by `now`."""
    return api_tokens.c.revoked.is_(False) & (api_tokens.c.expires_at > now)


def create_token(engine: Engine, email: str, now: dt.datetime | None = None,
                 days: int = TOKEN_DAYS, origin: Origin = COMMAND_LINE) -> str:
    """A new bearer token for the user, valid for `days` (shown once; only its SHA-256
    hash is stored; audited: create-token). A disabled user gets none."""
    now = now or records.utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = now + dt.timedelta(days=days)
    with engine.begin() as conn:
        row = row_for(conn, email)
        if row.disabled:
            raise UserError(f"{row.email} is disabled: enable them first "
                            "(guardian users enable)")
        conn.execute(
            insert(api_tokens).values(
                token_hash=digest(token), user_id=row.id, created_at=now, revoked=False,
                expires_at=expires,
            )
        )
        audit_change(conn, origin, "create-token", row,
                     f"expires {expires:%Y-%m-%d %H:%M} UTC", now)
    return token


@dataclass(frozen=True)
class Token:
    """A live token as an admin sees it: never its value (only its hash is stored)."""

    id: int
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None


def live_tokens(bind: Engine | Connection, user_id: int,
                now: dt.datetime | None = None) -> list[Token]:
    """A user's live tokens (neither revoked nor expired), oldest first."""
    now = now or records.utcnow()
    query = (select(api_tokens).where(api_tokens.c.user_id == user_id, live_token(now))
             .order_by(api_tokens.c.id))
    if isinstance(bind, Connection):
        rows = bind.execute(query).all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(query).all()
    return [Token(r.id, aware(r.created_at), aware(r.expires_at), aware(r.last_used_at))
            for r in rows]


def user_for_token(engine: Engine, token: str, now: dt.datetime | None = None) -> User | None:
    """The user a live token belongs to (not revoked, not expired, its user enabled), or
    None. Notes when it was last used, writing at most once a minute per token so that the
    requests of a busy script stay read-only."""
    now = now or records.utcnow()
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
    return user_of(row)


def revoke_token(engine: Engine, token: str, *, origin: Origin = COMMAND_LINE,
                 now: dt.datetime | None = None) -> bool:
    """Revoke one token, whoever's it is (audited: revoke-token). False if it was unknown
    or already revoked."""
    now = now or records.utcnow()
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
            audit_change(conn, origin, "revoke-token", row, "tokens revoked: 1", now)
    return bool(done)


def revoke_tokens(engine: Engine, email: str, token: str | None = None, *,
                  every: bool = False, origin: Origin = COMMAND_LINE,
                  now: dt.datetime | None = None, token_id: int | None = None) -> Change:
    """Revoke a user's tokens (audited: revoke-token): all of them with `every`; else the
    `token` given, or the one with `token_id` (as `live_tokens` lists them), which must be
    one of theirs; else their only live token (with several, which one is not guessed:
    UserError)."""
    now = now or records.utcnow()
    with engine.begin() as conn:
        row = row_for(conn, email, lock=True)
        mine = (api_tokens.c.user_id == row.id) & api_tokens.c.revoked.is_(False)
        if every:
            which = mine
        elif token is not None or token_id is not None:
            which = mine & (api_tokens.c.token_hash == digest(token.strip()) if token is not None
                            else api_tokens.c.id == token_id)
            if conn.execute(select(api_tokens.c.id).where(which)).first() is None:
                raise UserError(f"that token is not a token of {row.email} that is still "
                                "valid (unknown, someone else's, or already revoked)")
        else:
            live = conn.execute(
                select(api_tokens.c.id).where(api_tokens.c.user_id == row.id,
                                              live_token(now))).scalars().all()
            if not live:
                raise UserError(f"{row.email} has no live token")
            if len(live) > 1:
                raise UserError(
                    f"{row.email} has {len(live)} live tokens: give the one to revoke "
                    "(--token-stdin), or revoke them all (--all)")
            which = api_tokens.c.id == live[0]
        done = conn.execute(update(api_tokens).where(which).values(revoked=True)).rowcount
        audit_change(conn, origin, "revoke-token", row,
                     f"tokens revoked: {done}" + (" (all)" if every else ""), now)
    return Change(row.email, changed=bool(done), tokens_revoked=done)
