"""The stored shape of accounts: the `users`, `api_tokens` and `user_sessions` tables, and
`upgrade`, which `guardian db init` runs after creating them to bring rows written by an
earlier version up to date (docs/cli.md `db init`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
    select,
    update,
)

from guardian.store import metadata
from guardian.users.records import DISPLAY_NAME_MAX, aware

TOKEN_DAYS = 90  # the default of GUARDIAN_TOKEN_DAYS (guardian/config.py)

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
    Column("display_name", String(DISPLAY_NAME_MAX)),  # as people read it: "Sam Taylor"
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
