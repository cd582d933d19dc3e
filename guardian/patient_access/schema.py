"""The stored shape of patient sign-in (docs/patients.md): one-time codes, sessions and the
failure counts that lock out guessing. NHS numbers are never stored here in the clear: a
count is kept under an HMAC of the number, and a code under its patient's id."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, Table

from guardian.store import metadata

patient_codes = Table(
    "patient_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", String(32), nullable=False),  # hex
    Column("code_hash", String(64), nullable=False),  # HMAC-SHA256 of the code
    Column("channel", String(16), nullable=False),  # email or letter
    Column("made_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Index("patient_codes_patient", "patient_id", "id"),
)

patient_sessions = Table(
    "patient_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("patient_id", String(32), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("via", String(16), nullable=False),  # "code" or "nhs-login"
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Index("patient_sessions_patient", "patient_id"),
)

# Failed attempts by key ("nhs:<hmac>" or "client:<address>"); locked until a time.
patient_lockouts = Table(
    "patient_lockouts",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True)),
)
