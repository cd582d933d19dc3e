"""Helpers shared by the read models' tables."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Column, Connection, String, Table


def pathway_key() -> list[Column]:
    """The key columns every read model's per-pathway table begins with."""
    return [Column("provider", String(8), primary_key=True),
            Column("pathway_id", String(64), primary_key=True)]


def swap_tables(conn: Connection, live_tables: Iterable[Table], suffix: str) -> None:
    """Replace each live table by the one built aside under `name + suffix`, with its
    indexes and primary key renamed to the live names, in the caller's transaction."""
    postgres = conn.dialect.name == "postgresql"
    for live in live_tables:
        name, aside = live.name, live.name + suffix
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        conn.exec_driver_sql(f"ALTER TABLE {aside} RENAME TO {name}")
        for index in live.indexes:
            old = aside + index.name[len(name):]
            if postgres:
                conn.exec_driver_sql(f"ALTER INDEX {old} RENAME TO {index.name}")
            else:  # SQLite cannot rename an index: recreate it under its own name
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {old}")
                index.create(conn)
        if postgres:
            conn.exec_driver_sql(
                f"ALTER TABLE {name} RENAME CONSTRAINT {aside}_pkey TO {name}_pkey"
            )
